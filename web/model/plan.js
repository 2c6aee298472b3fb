// The chain plan in the browser: the same integer frame math as ltx2/chain/plan.py, so the timeline the
// editor draws is the plan the sampler renders. Pure module: no ComfyUI imports.
//
// Frame rates are exact fractions (BigInt numerator/denominator), as in Python: a float frame rate is
// taken at its exact binary value and reduced to the nearest fraction with a denominator of at most 1001;
// a string is read as an exact decimal or "p/q".

export const FRAMES_PER_LATENT = 8;
export const MIN_CLIP_FRAMES = 9;
export const MAX_CLIP_FRAMES = 1025;
export const MAX_TOTAL_FRAMES = 2_000_000;
export const MIN_FPS = 1;
export const MAX_FPS = 240;
export const DEFAULT_MAX_CHUNKS = 200;

/** A plan that cannot be made; `field` names the offending input. */
export class PlanError extends Error {
  constructor(field, message) {
    super(`${field}: ${message}`);
    this.name = "PlanError";
    this.field = field;
    this.problems = [[field, message]];
  }
}

// --- exact fractions ---------------------------------------------------------------------------------

const babs = (x) => (x < 0n ? -x : x);
const gcd = (a, b) => {
  a = babs(a);
  b = babs(b);
  while (b) [a, b] = [b, a % b];
  return a;
};
const floorDiv = (a, b) => {
  const q = a / b;
  return (a % b !== 0n && (a < 0n) !== (b < 0n)) ? q - 1n : q;
};

function fraction(n, d = 1n) {
  if (d === 0n) throw new RangeError("zero denominator");
  if (d < 0n) [n, d] = [-n, -d];
  const g = gcd(n, d) || 1n;
  return { n: n / g, d: d / g };
}

/** The exact value of a finite double as a fraction. */
function exactFraction(x) {
  let d = 1n;
  while (!Number.isInteger(x)) {
    x *= 2; // exact: a non-integer double is far below the overflow range
    d *= 2n;
  }
  return fraction(BigInt(x), d);
}

/** The closest fraction to `f` with denominator at most `maxD` (ties go to the simpler convergent). */
function limitDenominator(f, maxD) {
  if (f.d <= maxD) return f;
  let [p0, q0, p1, q1] = [0n, 1n, 1n, 0n];
  let [n, d] = [f.n, f.d];
  for (;;) {
    const a = floorDiv(n, d);
    const q2 = q0 + a * q1;
    if (q2 > maxD) break;
    [p0, q0, p1, q1] = [p1, q1, p0 + a * p1, q2];
    [n, d] = [d, n - a * d];
  }
  const k = floorDiv(maxD - q0, q1);
  const bound1 = fraction(p0 + k * p1, q0 + k * q1);
  const bound2 = fraction(p1, q1);
  const dist = (b) => babs(b.n * f.d - f.n * b.d); // |b - f| scaled by b.d * f.d
  // compare |bound2 - f| <= |bound1 - f| without division
  return dist(bound2) * bound1.d <= dist(bound1) * bound2.d ? bound2 : bound1;
}

function parseFractionString(text) {
  const s = text.trim();
  let m = /^([+-]?\d+)\s*\/\s*(\d+)$/.exec(s);
  if (m) return fraction(BigInt(m[1]), BigInt(m[2]));
  m = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(s);
  if (!m || (m[2] === "" && (m[3] ?? "") === "")) throw new RangeError("not a number");
  const digits = BigInt((m[2] || "0") + (m[3] ?? "")) * (m[1] === "-" ? -1n : 1n);
  const exp = BigInt(m[4] ?? 0) - BigInt((m[3] ?? "").length);
  return exp >= 0n ? fraction(digits * 10n ** exp) : fraction(digits, 10n ** -exp);
}

/** An exact frame rate {n, d} from 24, 23.976..., "24000/1001"; 0 < fps <= 240. */
export function asFps(fps) {
  let value;
  try {
    if (typeof fps === "number") {
      if (!Number.isFinite(fps)) throw new RangeError("not finite");
      value = Number.isInteger(fps) ? fraction(BigInt(fps)) : limitDenominator(exactFraction(fps), 1001n);
    } else if (typeof fps === "string") {
      value = parseFractionString(fps);
    } else if (fps && typeof fps.n === "bigint" && typeof fps.d === "bigint") {
      value = fraction(fps.n, fps.d);
    } else {
      throw new RangeError("not a frame rate");
    }
  } catch {
    throw new PlanError("fps", `${JSON.stringify(fps)} is not a frame rate; give a number such as 24 or 24000/1001`);
  }
  if (!(value.n >= BigInt(MIN_FPS) * value.d && value.n <= BigInt(MAX_FPS) * value.d)) {
    throw new PlanError("fps", `${fps} is out of range; use a frame rate from ${MIN_FPS} to ${MAX_FPS}`);
  }
  return value;
}

export const fpsValue = (fps) => Number(fps.n) / Number(fps.d);

/** The frame nearest to `seconds` at `fps` (halves round up); seconds taken at their exact double value. */
export function framesForSeconds(seconds, fps) {
  const s = exactFraction(seconds);
  // floor(s * fps + 1/2) = floor((2 s.n fps.n + s.d fps.d) / (2 s.d fps.d))
  return Number(floorDiv(2n * s.n * fps.n + s.d * fps.d, 2n * s.d * fps.d));
}

/** Seconds at `frame` as the nearest double (Python's float(Fraction(frame) / fps)). */
export const secondsAt = (frame, fps) => (frame * Number(fps.d)) / Number(fps.n);

// --- lengths -------------------------------------------------------------------------------------------

export const isValidLength = (frames) => frames >= 1 && (frames - 1) % FRAMES_PER_LATENT === 0;

export function latentFrames(pixels) {
  if (!isValidLength(pixels)) throw new RangeError(`${pixels} pixel frames is not 8k+1`);
  return (pixels - 1) / FRAMES_PER_LATENT + 1;
}

export function pixelFrames(latents) {
  if (latents < 1) throw new RangeError(`${latents} latent frames: need at least 1`);
  return (latents - 1) * FRAMES_PER_LATENT + 1;
}

export const roundUpToValid = (frames) =>
  pixelFrames(Math.max(1, Math.ceil((frames - 1) / FRAMES_PER_LATENT) + 1));

function neighbours(frames) {
  const below = pixelFrames(Math.max(1, Math.floor((frames - 1) / FRAMES_PER_LATENT) + 1));
  const above = roundUpToValid(frames);
  return below !== above ? `${below} or ${above}` : String(above);
}

// --- the plan ------------------------------------------------------------------------------------------

/**
 * A chain plan: {fps: {n, d}, total_frames, clip_frames, tail_frames, chunks: [{index, start, frames,
 * keep: [a, b], tail_frames, end, latent_frames}]}. Frame numbers are absolute output frames.
 */
export function makePlan({ fps, clip_frames, tail_frames, total_frames = null, seconds = null, max_chunks = DEFAULT_MAX_CHUNKS }) {
  const rate = asFps(fps);
  if ((total_frames === null) === (seconds === null)) {
    throw new PlanError("total_frames", "give exactly one of total_frames or seconds");
  }
  if (seconds !== null) {
    if (!(typeof seconds === "number" && Number.isFinite(seconds) && seconds > 0)) {
      throw new PlanError("seconds", `${seconds} is not a positive duration in seconds`);
    }
    total_frames = framesForSeconds(seconds, rate);
    if (total_frames < 1) throw new PlanError("seconds", `${seconds} s is less than one frame at ${fpsValue(rate)} fps`);
  }
  const total = checkInt("total_frames", total_frames);
  const clip = checkInt("clip_frames", clip_frames);
  const tail = checkInt("tail_frames", tail_frames);
  const limit = checkInt("max_chunks", max_chunks);

  if (!(total >= 1 && total <= MAX_TOTAL_FRAMES)) {
    throw new PlanError("total_frames", `${total} is out of range; use 1 to ${MAX_TOTAL_FRAMES} frames`);
  }
  if (!(clip >= MIN_CLIP_FRAMES && clip <= MAX_CLIP_FRAMES)) {
    throw new PlanError("clip_frames", `${clip} is out of range; use 8k+1 frames from ${MIN_CLIP_FRAMES} to ${MAX_CLIP_FRAMES}`);
  }
  if (!isValidLength(clip)) {
    throw new PlanError("clip_frames", `${clip} is not 8k+1 frames; the nearest valid lengths are ${neighbours(clip)}`);
  }
  if (tail < 1) throw new PlanError("tail_frames", `${tail} is too short; the tail is at least 1 frame (8k+1: 1, 9, 17, 25, ...)`);
  if (tail >= clip) {
    throw new PlanError("tail_frames", `${tail} must be shorter than clip_frames (${clip}); at most ${clip - FRAMES_PER_LATENT}`);
  }
  if (!isValidLength(tail)) {
    throw new PlanError("tail_frames", `${tail} is not aligned to the 8x latent grid; a tail is 8k+1 frames, e.g. ${neighbours(tail)}`);
  }
  if (limit < 1) throw new PlanError("max_chunks", `${limit} must be at least 1`);

  const stride = clip - tail;
  const count = total <= clip ? 1 : 1 + Math.ceil((total - clip) / stride);
  if (count > limit) {
    throw new PlanError(
      "max_chunks",
      `${total} frames need ${count} chunks of ${clip} frames with a ${tail}-frame tail, more than the limit of ${limit}; ` +
        "raise max_chunks, use longer clips or a shorter tail, or ask for fewer frames",
    );
  }
  const chunks = [];
  for (let i = 0; i < count; i++) {
    const start = i * stride;
    const last = i === count - 1;
    const frames = last ? roundUpToValid(total - start) : clip;
    const keep = [start + (i ? tail : 0), last ? total : start + frames];
    chunks.push({ index: i, start, frames, end: start + frames, keep, tail_frames: last ? 0 : tail, latent_frames: latentFrames(frames) });
  }
  return { fps: rate, total_frames: total, clip_frames: clip, tail_frames: tail, chunks };
}

function checkInt(field, value) {
  if (typeof value !== "number" || !Number.isInteger(value)) throw new PlanError(field, `${JSON.stringify(value)} is not a whole number of frames`);
  return value;
}

/** The chunk whose new content starts nearest to `frame` (ties go to the later chunk). */
export function chunkForFrame(plan, frame) {
  let best = 0;
  plan.chunks.forEach((c, i) => {
    if (Math.abs(c.keep[0] - frame) <= Math.abs(plan.chunks[best].keep[0] - frame)) best = i;
  });
  return best;
}

/** The plan as ChainPlan.to_dict() writes it. */
export function planToDict(plan) {
  return {
    fps: plan.fps.d === 1n ? Number(plan.fps.n) : fpsValue(plan.fps),
    total_frames: plan.total_frames,
    clip_frames: plan.clip_frames,
    tail_frames: plan.tail_frames,
    rendered_frames: plan.chunks.reduce((sum, c) => sum + c.frames, 0),
    chunks: plan.chunks.map((c) => ({
      index: c.index,
      frames: c.frames,
      start: c.start,
      keep: [...c.keep],
      tail_frames: c.tail_frames,
      latent_frames: c.latent_frames,
    })),
  };
}

/** Plan inputs as the ComfyUI nodes take them: seconds > 0 overrides total_frames. */
export const PLAN_DEFAULTS = Object.freeze({ total_frames: 481, seconds: 0, fps: 24, clip_frames: 121, tail_frames: 25 });

export function planFromWidgets(values) {
  const v = { ...PLAN_DEFAULTS };
  for (const key of Object.keys(PLAN_DEFAULTS)) if (values?.[key] !== undefined && values[key] !== null) v[key] = values[key];
  return makePlan({
    fps: v.fps,
    clip_frames: v.clip_frames,
    tail_frames: v.tail_frames,
    total_frames: v.seconds > 0 ? null : v.total_frames,
    seconds: v.seconds > 0 ? v.seconds : null,
    max_chunks: values?.max_chunks ?? DEFAULT_MAX_CHUNKS,
  });
}
