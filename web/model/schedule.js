// ChunkSpec schedules in the browser: parse and validate the schedule JSON, write it back sparse (defaults
// left out, like ChunkSchedule.to_json()), and resolve each chunk's effective parameters exactly as
// ChunkSchedule.resolve does in ltx2/chain/schedule.py. Pure module: no ComfyUI imports.
//
// A parsed schedule is a plain object with every field present (defaults filled in); timeline points keep
// exactly one of `chunk`, `seconds` or `frame`.

import { chunkForFrame, framesForSeconds } from "./plan.js";

export const MAX_SEED = 2 ** 53 - 1;
export const LORA_SCALE_LIMIT = 10;

/** An invalid schedule; `problems` is a list of [field path, message]. */
export class ScheduleError extends Error {
  constructor(problems) {
    super(problems.map(([where, what]) => `${where}: ${what}`).join("; "));
    this.name = "ScheduleError";
    this.problems = problems;
  }
}

const FIELDS = ["version", "prompt", "prompts", "negative_prompt", "seed", "seed_mode", "handoff_strength", "tail_noise", "denoise", "audio_strength", "guidance", "loras", "anchors"];
const POINT = ["chunk", "seconds", "frame"];
const PROMPT_FIELDS = [...POINT, "text"];
const LORA_KEY_FIELDS = [...POINT, "scale"];
const LORA_FIELDS = ["name", "scale", "keyframes"];
const ANCHOR_FIELDS = [...POINT, "image", "position", "strength"];

/** A fresh schedule with every field at its default. */
export function defaultSchedule() {
  return {
    version: 1,
    prompt: "",
    prompts: [],
    negative_prompt: "",
    seed: 0,
    seed_mode: "fixed",
    handoff_strength: 1,
    tail_noise: 0,
    denoise: 1,
    audio_strength: 1,
    guidance: null,
    loras: [],
    anchors: [],
  };
}

// --- validation --------------------------------------------------------------------------------------

const isObject = (v) => v !== null && typeof v === "object" && !Array.isArray(v);
const isInt = (v) => typeof v === "number" && Number.isInteger(v);
const isNum = (v) => typeof v === "number" && Number.isFinite(v);

function checker(problems) {
  const bad = (where, what) => problems.push([where, what]);

  const fields = (obj, where, allowed) => {
    if (!isObject(obj)) {
      bad(where, `expected an object {...}, got ${JSON.stringify(obj)}`);
      return false;
    }
    for (const key of Object.keys(obj)) {
      if (!allowed.includes(key)) bad(where ? `${where}.${key}` : key, `unknown field; valid fields here are: ${allowed.join(", ")}`);
    }
    return true;
  };

  const perChunk = (value, where, { int, lo, hi, what }) => {
    const one = (v, prefix) => {
      const okType = int ? isInt(v) : isNum(v);
      if (!okType) bad(where, `${prefix}expected ${what} from ${lo} to ${hi}, got ${JSON.stringify(v)}`);
      else if (!(v >= lo && v <= hi)) bad(where, `${prefix}${v} is out of range; expected ${what} from ${lo} to ${hi}`);
    };
    if (Array.isArray(value)) {
      if (!value.length) bad(where, "an empty list; give one value or a list of at least one");
      value.forEach((v, i) => one(v, `item ${i}: `));
    } else one(value, "");
  };

  const point = (obj, where) => {
    const given = POINT.filter((k) => obj[k] !== undefined && obj[k] !== null);
    if (given.length !== 1) bad(where, `give exactly one of chunk, seconds or frame (${given.length ? "got " + given.join(", ") : "got none"})`);
    for (const k of ["chunk", "frame"]) {
      if (obj[k] != null && !(isInt(obj[k]) && obj[k] >= 0)) bad(`${where}.${k}`, `expected a whole number >= 0, got ${JSON.stringify(obj[k])}`);
    }
    if (obj.seconds != null && !(isNum(obj.seconds) && obj.seconds >= 0)) bad(`${where}.seconds`, `expected a number of seconds >= 0, got ${JSON.stringify(obj.seconds)}`);
  };

  const text = (v, where, minLength = 0) => {
    if (typeof v !== "string") bad(where, v === undefined ? "this field is required" : `expected a string, got ${JSON.stringify(v)}`);
    else if (v.length < minLength) bad(where, "must not be empty");
  };

  return { bad, fields, perChunk, point, text };
}

/** Problems of a schedule object (JSON.parse output), [[path, message], ...]; empty when valid. */
export function validateSchedule(raw) {
  const problems = [];
  const c = checker(problems);
  if (!isObject(raw)) return [["schedule", `expected a JSON object {...}, got ${Array.isArray(raw) ? "list" : JSON.stringify(raw)}`]];
  c.fields(raw, "", FIELDS);
  const has = (k) => raw[k] !== undefined;
  if (has("version") && raw.version !== 1) c.bad("version", `only version 1 exists, got ${JSON.stringify(raw.version)}`);
  if (has("prompt")) c.text(raw.prompt, "prompt");
  if (has("negative_prompt")) c.text(raw.negative_prompt, "negative_prompt");
  if (has("seed")) c.perChunk(raw.seed, "seed", { int: true, lo: 0, hi: MAX_SEED, what: "a whole-number seed" });
  if (has("seed_mode") && !["fixed", "increment"].includes(raw.seed_mode)) c.bad("seed_mode", `expected "fixed" or "increment", got ${JSON.stringify(raw.seed_mode)}`);
  for (const k of ["handoff_strength", "tail_noise", "denoise", "audio_strength"]) if (has(k)) c.perChunk(raw[k], k, { lo: 0, hi: 1, what: "a number" });
  if (has("guidance") && raw.guidance !== null) c.perChunk(raw.guidance, "guidance", { lo: 0, hi: 100, what: "a guidance scale" });

  const list = (key, each) => {
    if (!has(key)) return;
    if (!Array.isArray(raw[key])) return c.bad(key, `expected a list, got ${JSON.stringify(raw[key])}`);
    raw[key].forEach((item, i) => each(item, `${key}[${i}]`));
  };
  list("prompts", (p, where) => {
    if (!c.fields(p, where, PROMPT_FIELDS)) return;
    c.point(p, where);
    c.text(p.text, `${where}.text`);
  });
  list("loras", (lora, where) => {
    if (!c.fields(lora, where, LORA_FIELDS)) return;
    c.text(lora.name, `${where}.name`, 1);
    if (lora.scale != null) c.perChunk(lora.scale, `${where}.scale`, { lo: -LORA_SCALE_LIMIT, hi: LORA_SCALE_LIMIT, what: "a LoRA scale" });
    if (lora.keyframes != null) {
      if (!Array.isArray(lora.keyframes) || !lora.keyframes.length) c.bad(`${where}.keyframes`, "expected a list of at least one keyframe");
      else {
        lora.keyframes.forEach((key, k) => {
          const at = `${where}.keyframes[${k}]`;
          if (!c.fields(key, at, LORA_KEY_FIELDS)) return;
          c.point(key, at);
          if (key.scale === undefined) c.bad(`${at}.scale`, "this field is required");
          else if (!(isNum(key.scale) && Math.abs(key.scale) <= LORA_SCALE_LIMIT)) c.bad(`${at}.scale`, `expected a LoRA scale from -${LORA_SCALE_LIMIT} to ${LORA_SCALE_LIMIT}, got ${JSON.stringify(key.scale)}`);
        });
      }
    }
    if (lora.scale != null && lora.keyframes != null) c.bad(where, "give either scale or keyframes, not both");
  });
  if (Array.isArray(raw.loras)) {
    const names = raw.loras.map((l) => l?.name);
    const dupes = [...new Set(names.filter((n, i) => names.indexOf(n) !== i))].sort();
    if (dupes.length) c.bad("loras", `LoRA ${JSON.stringify(dupes[0])} is listed more than once; give each LoRA one ramp`);
  }
  list("anchors", (a, where) => {
    if (!c.fields(a, where, ANCHOR_FIELDS)) return;
    c.point(a, where);
    c.text(a.image, `${where}.image`, 1);
    if (a.position !== undefined && !["first", "last"].includes(a.position)) c.bad(`${where}.position`, `expected "first" or "last", got ${JSON.stringify(a.position)}`);
    if (a.strength !== undefined && !(isNum(a.strength) && a.strength >= 0 && a.strength <= 1)) c.bad(`${where}.strength`, `expected a number from 0 to 1, got ${JSON.stringify(a.strength)}`);
  });
  return problems;
}

// --- parse and write ---------------------------------------------------------------------------------

const copyValue = (v) => (Array.isArray(v) ? [...v] : v);
const pointOf = (p) => {
  const k = POINT.find((key) => p[key] !== undefined && p[key] !== null);
  return { [k]: p[k] };
};

/** A schedule from JSON text, an object, or null/"" (all defaults). Throws ScheduleError. */
export function parseSchedule(source) {
  if (source === null || source === undefined || (typeof source === "string" && !source.trim())) return defaultSchedule();
  let raw = source;
  if (typeof source === "string") {
    try {
      raw = JSON.parse(source);
    } catch (e) {
      throw new ScheduleError([["schedule", `not valid JSON: ${e.message}`]]);
    }
  }
  const problems = validateSchedule(raw);
  if (problems.length) throw new ScheduleError(problems);
  const s = defaultSchedule();
  for (const k of ["prompt", "negative_prompt", "seed_mode"]) if (raw[k] !== undefined) s[k] = raw[k];
  for (const k of ["seed", "handoff_strength", "tail_noise", "denoise", "audio_strength", "guidance"]) if (raw[k] !== undefined) s[k] = copyValue(raw[k]);
  s.prompts = (raw.prompts ?? []).map((p) => ({ ...pointOf(p), text: p.text }));
  s.loras = (raw.loras ?? []).map((l) => ({
    name: l.name,
    scale: l.scale == null ? null : copyValue(l.scale),
    keyframes: l.keyframes == null ? null : l.keyframes.map((k) => ({ ...pointOf(k), scale: k.scale })),
  }));
  s.anchors = (raw.anchors ?? []).map((a) => ({ ...pointOf(a), image: a.image, position: a.position ?? "first", strength: a.strength ?? 1 }));
  return s;
}

const sameValue = (a, b) => (Array.isArray(a) || Array.isArray(b) ? false : a === b);

/** The schedule as a sparse object: defaults left out, fields in ChunkSchedule's order. */
export function scheduleToObject(s) {
  const out = {};
  const defaults = defaultSchedule();
  for (const key of FIELDS) {
    const value = s[key];
    if (Array.isArray(defaults[key]) && key !== "seed") {
      if (!value.length) continue;
    } else if (sameValue(value, defaults[key])) continue;
    if (key === "prompts") out.prompts = value.map((p) => ({ ...pointOf(p), text: p.text }));
    else if (key === "loras") {
      out.loras = value.map((l) => {
        const lora = { name: l.name };
        if (l.scale !== null) lora.scale = copyValue(l.scale);
        if (l.keyframes !== null) lora.keyframes = l.keyframes.map((k) => ({ ...pointOf(k), scale: k.scale }));
        return lora;
      });
    } else if (key === "anchors") {
      out.anchors = value.map((a) => {
        const anchor = { ...pointOf(a), image: a.image };
        if (a.position !== "first") anchor.position = a.position;
        if (a.strength !== 1) anchor.strength = a.strength;
        return anchor;
      });
    } else out[key] = copyValue(value);
  }
  return out;
}

/** Sparse JSON text that parseSchedule (and ChunkSchedule.parse) turns back into an equal schedule. */
export const scheduleToJSON = (s, indent) => JSON.stringify(scheduleToObject(s), null, indent);

// --- resolution --------------------------------------------------------------------------------------

/** Chunk `index`'s entry of a per-chunk value: lists repeat their last value. */
export const pick = (value, index) => (Array.isArray(value) ? value[Math.min(index, value.length - 1)] : value);

/** The chunk a timeline point takes effect at (a time maps to the nearest chunk boundary). */
export function pointChunk(point, plan, field = "point") {
  if (point.chunk != null) return point.chunk;
  if (!plan) throw new ScheduleError([[field, "a time (seconds or frame) needs the chain's plan to map it onto chunks"]]);
  return chunkForFrame(plan, pointFrame(point, plan));
}

/** The output frame a timeline point names; a chunk index names the first new frame of that chunk. */
export function pointFrame(point, plan) {
  if (point.frame != null) return point.frame;
  if (point.seconds != null) return framesForSeconds(point.seconds, plan.fps);
  const chunks = plan.chunks;
  return point.chunk < chunks.length ? chunks[point.chunk].keep[0] : plan.total_frames;
}

/** A LoRA's scale at chunk `index`: per-chunk list, or keyframes interpolated linearly. */
export function loraScaleAt(lora, index, plan, field = "lora") {
  if (lora.keyframes === null) return pick(lora.scale === null ? 1 : lora.scale, index);
  const points = new Map();
  lora.keyframes.forEach((key, k) => points.set(pointChunk(key, plan, `${field}.keyframes[${k}]`), key.scale));
  const xs = [...points.keys()].sort((a, b) => a - b);
  if (index <= xs[0]) return points.get(xs[0]);
  if (index >= xs[xs.length - 1]) return points.get(xs[xs.length - 1]);
  for (let i = 0; i + 1 < xs.length; i++) {
    const [a, b] = [xs[i], xs[i + 1]];
    if (a <= index && index <= b) {
      const t = (index - a) / (b - a);
      return points.get(a) + t * (points.get(b) - points.get(a));
    }
  }
  throw new Error("unreachable: index lies between the first and last keyframe");
}

/** Seed of chunk `index` (seed_mode applied, wrapped like Python's `% (MAX_SEED + 1)`). */
export function seedAt(s, index) {
  let seed = BigInt(pick(s.seed, index));
  if (s.seed_mode === "increment") seed += BigInt(Array.isArray(s.seed) ? Math.max(0, index - (s.seed.length - 1)) : index);
  return Number(seed % BigInt(MAX_SEED + 1));
}

/** Chunk `index`'s effective parameters, shaped like ChunkParams.to_dict(). */
export function resolveChunk(s, index, plan = null) {
  if (index < 0) throw new RangeError(`chunk index ${index} is negative`);
  const at = new Map();
  s.prompts.forEach((key, k) => at.set(pointChunk(key, plan, `prompts[${k}]`), key.text));
  let prompt = s.prompt;
  for (const chunk of [...at.keys()].sort((a, b) => a - b)) if (chunk <= index) prompt = at.get(chunk);

  const anchors = new Map();
  s.anchors.forEach((a, k) => {
    if (pointChunk(a, plan, `anchors[${k}]`) === index) anchors.set(a.position, { image: a.image, position: a.position, strength: a.strength });
  });
  const loras = {};
  s.loras.forEach((lora, k) => (loras[lora.name] = loraScaleAt(lora, index, plan, `loras[${k}]`)));
  return {
    index,
    prompt,
    negative_prompt: s.negative_prompt,
    seed: seedAt(s, index),
    handoff_strength: pick(s.handoff_strength, index),
    tail_noise: pick(s.tail_noise, index),
    denoise: pick(s.denoise, index),
    audio_strength: pick(s.audio_strength, index),
    guidance: pick(s.guidance, index),
    loras,
    anchors: ["first", "last"].filter((p) => anchors.has(p)).map((p) => anchors.get(p)),
  };
}

/** Every chunk of `plan` resolved. */
export const resolveAll = (s, plan) => plan.chunks.map((c) => resolveChunk(s, c.index, plan));

/** Warnings about `s` on `plan` (ChunkSchedule.check): points past the end, points that collide. */
export function scheduleWarnings(s, plan) {
  const warnings = [];
  const last = plan.chunks.length - 1;
  const place = (p) => (p.chunk != null ? `chunk ${p.chunk}` : p.seconds != null ? `${formatG(p.seconds)} s` : `frame ${p.frame}`);
  const visit = (kind, points, key = () => null) => {
    const seen = new Map();
    points.forEach((p, k) => {
      const field = `${kind}[${k}]`;
      if ((p.frame != null && p.frame >= plan.total_frames) || (p.seconds != null && framesForSeconds(p.seconds, plan.fps) >= plan.total_frames)) {
        warnings.push(`${field}: ${place(p)} is past the end of the video; it applies to the last chunk`);
      }
      const chunk = pointChunk(p, plan, field);
      if (chunk > last) warnings.push(`${field}: chunk ${chunk} is past the last chunk (${last}); it has no effect`);
      const slot = JSON.stringify([chunk, key(p)]);
      if (seen.has(slot)) warnings.push(`${field}: lands on chunk ${chunk} like ${seen.get(slot)}; the later one wins`);
      seen.set(slot, field);
    });
  };
  visit("prompts", s.prompts);
  visit("anchors", s.anchors, (a) => a.position);
  s.loras.forEach((lora, k) => visit(`loras[${k}].keyframes`, lora.keyframes ?? []));
  return warnings;
}

/** Python's "%g" formatting of a float (6 significant digits, trailing zeros dropped). */
export function formatG(x) {
  if (x === 0) return "0";
  const [mant, e] = x.toExponential(5).split("e");
  const exp = Number(e);
  const strip = (t) => (t.includes(".") ? t.replace(/\.?0+$/, "") : t);
  if (exp < -4 || exp >= 6) return `${strip(mant)}e${exp < 0 ? "-" : "+"}${String(Math.abs(exp)).padStart(2, "0")}`;
  return strip(x.toFixed(5 - exp));
}
