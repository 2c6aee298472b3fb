// Edits the timeline editor makes to a schedule. Each takes a parsed schedule (see schedule.js) and returns
// a new one; the input is never changed. A per-chunk edit changes that chunk only: it writes out the values
// the chunks before it already had and the value of the chunk after it (from which the list's last value
// repeats or counts on as before), then drops trailing values the list would produce anyway.
// Pure module: no ComfyUI imports.

import { chunkForFrame, secondsAt } from "./plan.js";
import { loraScaleAt, pick, pointChunk, pointFrame, seedAt } from "./schedule.js";

const copy = (s) => structuredClone(s);

/** How a point is placed: "chunk", "seconds" or "frame". */
export const pointPlace = (point) => ["chunk", "seconds", "frame"].find((k) => point[k] != null);

/**
 * A timeline point for output frame `frame`, placed as `place`: "chunk" snaps to the chunk boundary
 * nearest to the frame (the rule the renderer applies to times), "seconds" stores the time to the
 * millisecond (which maps back to the same frame at any frame rate up to 240), "frame" stores the frame.
 */
export function pointAt(plan, frame, place) {
  const f = Math.min(Math.max(0, Math.round(frame)), plan.total_frames - 1);
  if (place === "chunk") return { chunk: chunkForFrame(plan, f) };
  if (place === "seconds") return { seconds: Math.round(secondsAt(f, plan.fps) * 1000) / 1000 };
  if (place === "frame") return { frame: f };
  throw new RangeError(`unknown place ${place}`);
}

const withPoint = (item, point) => {
  const { chunk, seconds, frame, ...rest } = item;
  return { ...point, ...rest };
};

export function setField(s, key, value) {
  const out = copy(s);
  out[key] = value;
  return out;
}

// --- prompt keyframes ----------------------------------------------------------------------------------

export function addPromptKeyframe(s, plan, frame, text = "", place = "chunk") {
  const out = copy(s);
  out.prompts.push({ ...pointAt(plan, frame, place), text });
  return out;
}

/** Moves keyframe `k` to `frame`, keeping how it is placed (a chunk keyframe snaps to the nearest boundary). */
export function movePromptKeyframe(s, plan, k, frame) {
  const out = copy(s);
  out.prompts[k] = withPoint(out.prompts[k], pointAt(plan, frame, pointPlace(out.prompts[k])));
  return out;
}

/** Re-places keyframe `k` as "chunk", "seconds" or "frame", at the frame it names now. */
export function setPromptKeyframePlace(s, plan, k, place) {
  const out = copy(s);
  out.prompts[k] = withPoint(out.prompts[k], pointAt(plan, pointFrame(out.prompts[k], plan), place));
  return out;
}

export function setPromptKeyframeText(s, k, text) {
  const out = copy(s);
  out.prompts[k].text = text;
  return out;
}

export function removePromptKeyframe(s, k) {
  const out = copy(s);
  out.prompts.splice(k, 1);
  return out;
}

// --- per-chunk values ----------------------------------------------------------------------------------

/**
 * Sets chunk `index` of a per-chunk value; every other chunk keeps what `shown(j)` says it has now.
 * `follows(prev)` is the value after `prev` once the list runs out (the same value, or prev + 1 for
 * incrementing seeds).
 */
function setListEntry(value, index, newValue, shown, follows = (prev) => prev) {
  const list = Array.isArray(value) ? [...value] : [value];
  for (let j = list.length; j < index; j++) list[j] = shown(j);
  list[index] = newValue;
  if (index === list.length - 1) list.push(shown(index + 1)); // later chunks keep their values too
  return compactList(list, follows);
}

/** Drops trailing values a per-chunk list would produce anyway; one value left is written plainly. */
function compactList(list, follows = (prev) => prev) {
  list = [...list];
  while (list.length > 1 && list[list.length - 1] === follows(list[list.length - 2])) list.pop();
  return list.length === 1 ? list[0] : list;
}

const PER_CHUNK = ["seed", "handoff_strength", "tail_noise", "denoise", "audio_strength"];

/** Sets chunk `index`'s seed, handoff_strength, tail_noise, denoise or audio_strength. */
export function setChunkValue(s, field, index, value) {
  if (!PER_CHUNK.includes(field)) throw new RangeError(`${field} is not edited per chunk here`);
  const out = copy(s);
  if (field === "seed") {
    const inc = s.seed_mode === "increment";
    out.seed = setListEntry(s.seed, index, value, (j) => seedAt(s, j), inc ? (prev) => prev + 1 : undefined);
  } else {
    out[field] = setListEntry(s[field], index, value, (j) => pick(s[field], j));
  }
  return out;
}

/**
 * Sets chunk `index`'s guidance scale. Guidance is the model's default (null) for every chunk or a scale
 * for every chunk: a first scale set on a default schedule applies to every chunk (a list holds no "default"
 * entries), later ones to their chunk; `scale` null puts every chunk back on the model's default.
 */
export function setGuidanceAt(s, index, scale) {
  const out = copy(s);
  if (scale === null || s.guidance === null) out.guidance = scale;
  else out.guidance = setListEntry(s.guidance, index, scale, (j) => pick(s.guidance, j));
  return out;
}

// --- LoRA ramps ----------------------------------------------------------------------------------------

export function addLora(s, name) {
  if (!name) throw new RangeError("a LoRA needs a name");
  if (s.loras.some((l) => l.name === name)) throw new RangeError(`LoRA ${JSON.stringify(name)} is already listed`);
  const out = copy(s);
  out.loras.push({ name, scale: null, keyframes: null });
  return out;
}

export function removeLora(s, k) {
  const out = copy(s);
  out.loras.splice(k, 1);
  return out;
}

/** Sets LoRA `k`'s scale at chunk `index`: a list entry, or a keyframe at that chunk (linear in between). */
export function setLoraScaleAt(s, plan, k, index, scale) {
  const out = copy(s);
  const lora = out.loras[k];
  if (lora.keyframes === null) {
    lora.scale = setListEntry(lora.scale ?? 1, index, scale, (j) => loraScaleAt(s.loras[k], j, plan));
    return out;
  }
  const chunks = lora.keyframes.map((key) => pointChunk(key, plan));
  const same = chunks.lastIndexOf(index);
  if (same >= 0) lora.keyframes[same].scale = scale;
  else {
    const after = chunks.findIndex((c) => c > index);
    lora.keyframes.splice(after < 0 ? lora.keyframes.length : after, 0, { chunk: index, scale });
  }
  return out;
}

/**
 * Switches LoRA `k` between a per-chunk list ("list") and keyframes ("keyframes"), keeping the scale of
 * every chunk of `plan`.
 */
export function setLoraForm(s, plan, k, form) {
  const out = copy(s);
  const lora = out.loras[k];
  const scales = plan.chunks.map((c) => loraScaleAt(s.loras[k], c.index, plan));
  if (form === "keyframes" && lora.keyframes === null) {
    // inside a run of equal scales the keyframes are redundant (interpolating equal values is exact)
    const flat = (i) => i > 0 && i < scales.length - 1 && scales[i - 1] === scales[i] && scales[i] === scales[i + 1];
    lora.keyframes = scales.map((scale, chunk) => ({ chunk, scale })).filter((key, i) => !flat(i));
    lora.scale = null;
  } else if (form === "list" && lora.keyframes !== null) {
    lora.scale = compactList(scales);
    lora.keyframes = null;
  }
  return out;
}

// --- anchors -------------------------------------------------------------------------------------------

/**
 * Pins `image` to the `position` ("first" or "last") frame of chunk `chunk`. An anchor already there (the
 * same chunk and position, however it is placed) gets the new image instead, keeping its strength.
 */
export function addAnchor(s, plan, chunk, position, image) {
  if (!image) throw new RangeError("an anchor needs an image");
  if (!["first", "last"].includes(position)) throw new RangeError(`unknown anchor position ${position}`);
  const out = copy(s);
  const same = out.anchors.findLastIndex((a) => a.position === position && pointChunk(a, plan) === chunk);
  if (same >= 0) out.anchors[same].image = image;
  else out.anchors.push({ chunk, image, position, strength: 1 });
  return out;
}

/** Sets anchor `k`'s strength (0..1: how firmly the pinned frame holds the image). */
export function setAnchorStrength(s, k, strength) {
  if (!(Number.isFinite(strength) && strength >= 0 && strength <= 1)) throw new RangeError(`an anchor's strength is a number from 0 to 1, got ${strength}`);
  const out = copy(s);
  out.anchors[k].strength = strength;
  return out;
}

export function removeAnchor(s, k) {
  const out = copy(s);
  out.anchors.splice(k, 1);
  return out;
}
