// The editor's schedule model: JSON round trip, validation against the JSON Schema that
// `python -m ltx2 schema` prints, and what each edit does to the resolved chunks.
import assert from "node:assert/strict";
import { test } from "node:test";

import Ajv2020 from "ajv/dist/2020.js";

import * as edit from "../../web/model/edit.js";
import { framesForSeconds, makePlan } from "../../web/model/plan.js";
import {
  defaultSchedule, parseSchedule, resolveAll, resolveChunk, scheduleToJSON, scheduleToObject, validateSchedule,
} from "../../web/model/schedule.js";
import { cli } from "./python.mjs";

const PLAN = makePlan({ fps: 24, clip_frames: 121, tail_frames: 25, total_frames: 481 }); // keeps start 0,121,217,313,409
const validate = new Ajv2020({ strict: false }).compile(cli("schema"));

const SAMPLES = [
  {},
  { prompt: "a", prompts: [{ chunk: 2, text: "b" }, { seconds: 16.5, text: "c" }, { frame: 300, text: "d" }], negative_prompt: "blur" },
  { seed: [5, 9], seed_mode: "increment", handoff_strength: [1, 0.8], tail_noise: 0.1, denoise: [1, 0.9, 0.95], guidance: [3, 4] },
  { loras: [{ name: "style.safetensors", scale: [0, 0.5, 1] }, { name: "b", keyframes: [{ chunk: 0, scale: 0 }, { seconds: 13, scale: 1 }] }, { name: "c", scale: 0.7 }] },
  { anchors: [{ chunk: 0, image: "a.png" }, { seconds: 9, image: "b.png", position: "last", strength: 0.5 }] },
  { version: 1, seed: 2 ** 53 - 1, seed_mode: "increment", prompt: "x" },
];

test("every edit writes sparse JSON the JSON Schema accepts, and reading it back changes nothing", () => {
  for (const sample of SAMPLES) {
    let s = parseSchedule(JSON.stringify(sample));
    const steps = [
      (x) => edit.addPromptKeyframe(x, PLAN, 200, "added", "chunk"),
      (x) => edit.addPromptKeyframe(x, PLAN, 333, "timed", "seconds"),
      (x) => edit.movePromptKeyframe(x, PLAN, x.prompts.length - 1, 120),
      (x) => edit.setPromptKeyframePlace(x, PLAN, 0, "frame"),
      (x) => edit.setChunkValue(x, "seed", 3, 77),
      (x) => edit.setChunkValue(x, "handoff_strength", 2, 0.5),
      (x) => edit.setField(x, "negative_prompt", "low quality"),
      (x) => (x.loras.length ? x : edit.addLora(x, "new")),
      (x) => edit.setLoraScaleAt(x, PLAN, 0, 2, -1.5),
      (x) => edit.setLoraForm(x, PLAN, 0, x.loras[0].keyframes ? "list" : "keyframes"),
      (x) => edit.setGuidanceAt(x, 2, 6),
      (x) => edit.setGuidanceAt(x, 4, 2.5),
      (x) => edit.setChunkValue(x, "audio_strength", 3, 0.25),
      (x) => edit.setChunkValue(x, "denoise", 0, 0.8),
      (x) => edit.addAnchor(x, PLAN, 2, "last", "picked.png"),
      (x) => edit.addAnchor(x, PLAN, 2, "last", "picked again.png"),
      (x) => edit.setAnchorStrength(x, x.anchors.length - 1, 0.35),
    ];
    for (const step of steps) {
      s = step(s);
      const text = scheduleToJSON(s);
      const object = JSON.parse(text);
      assert.ok(validate(object), `${text}: ${JSON.stringify(validate.errors)}`);
      assert.deepEqual(validateSchedule(object), []);
      assert.equal(scheduleToJSON(parseSchedule(text)), text);
      assert.deepEqual(parseSchedule(text), s);
    }
  }
});

test("sparse JSON leaves defaults out and keeps Python's field order", () => {
  assert.equal(scheduleToJSON(defaultSchedule()), "{}");
  const s = parseSchedule({ anchors: [{ image: "a.png", chunk: 1, position: "first", strength: 1 }], seed: 0, version: 1, prompt: "p", tail_noise: 0, handoff_strength: [1] });
  assert.equal(scheduleToJSON(s), '{"prompt":"p","handoff_strength":[1],"anchors":[{"chunk":1,"image":"a.png"}]}');
});

test("the validator and the JSON Schema agree on type and range errors", () => {
  const bad = [
    { seed: -1 }, { seed: 1.5 }, { seed: [] }, { seed: 2 ** 53 }, { handoff_strength: 1.5 }, { tail_noise: [0.1, -0.1] },
    { guidance: 101 }, { version: 2 }, { seed_mode: "random" }, { prompt: 3 }, { prompts: [{ chunk: 1 }] },
    { prompts: [{ chunk: -1, text: "a" }] }, { loras: [{ name: "" }] }, { loras: [{ name: "a", scale: 11 }] },
    { loras: [{ name: "a", keyframes: [] }] }, { anchors: [{ chunk: 0 }] }, { anchors: [{ chunk: 0, image: "a", position: "middle" }] },
    { anchors: [{ chunk: 0, image: "a", strength: 2 }] }, { promt: "typo" }, { prompts: [{ chunk: 1, text: "a", txt: "b" }] },
  ];
  for (const object of bad) {
    assert.equal(validate(object), false, `schema accepts ${JSON.stringify(object)}`);
    assert.notDeepEqual(validateSchedule(object), [], `validator accepts ${JSON.stringify(object)}`);
  }
  // rules the schema cannot say but ChunkSchedule enforces
  for (const object of [{ prompts: [{ chunk: 1, seconds: 2, text: "a" }] }, { prompts: [{ text: "a" }] }, { loras: [{ name: "a", scale: 1, keyframes: [{ chunk: 0, scale: 1 }] }] }, { loras: [{ name: "a" }, { name: "a" }] }]) {
    assert.notDeepEqual(validateSchedule(object), [], JSON.stringify(object));
  }
  for (const sample of SAMPLES) assert.ok(validate(sample) && validateSchedule(sample).length === 0, JSON.stringify(sample));
});

test("per-chunk edits change only the edited chunk's value where the list allows, and stay compact", () => {
  const s = parseSchedule({ seed: 5, seed_mode: "increment" });
  const t = edit.setChunkValue(s, "seed", 3, 100);
  assert.deepEqual(resolveAll(t, PLAN).map((p) => p.seed), [5, 6, 7, 100, 9]);
  assert.deepEqual(t.seed, [5, 6, 7, 100, 9]);
  assert.equal(edit.setChunkValue(t, "seed", 3, 8).seed, 5); // back to plain increments: one value
  const h = parseSchedule({ handoff_strength: [1, 0.8] });
  const f = edit.setChunkValue(h, "handoff_strength", 1, 1);
  assert.deepEqual(f.handoff_strength, [1, 1, 0.8]);
  assert.deepEqual(resolveAll(f, PLAN).map((p) => p.handoff_strength), [1, 1, 0.8, 0.8, 0.8]);
  assert.equal(edit.setChunkValue(f, "handoff_strength", 1, 0.8).handoff_strength.length, 2);
  assert.equal(edit.setChunkValue(h, "handoff_strength", 4, 0.5).handoff_strength.join(), "1,0.8,0.8,0.8,0.5,0.8");
});

test("LoRA ramps: keyframe edits interpolate, switching form keeps every chunk's scale", () => {
  let s = edit.addLora(defaultSchedule(), "l");
  s = edit.setLoraForm(s, PLAN, 0, "keyframes");
  s = edit.setLoraScaleAt(s, PLAN, 0, 0, 0);
  s = edit.setLoraScaleAt(s, PLAN, 0, 4, 1);
  assert.deepEqual(resolveAll(s, PLAN).map((p) => p.loras.l), [0, 0.25, 0.5, 0.75, 1]);
  const list = edit.setLoraForm(s, PLAN, 0, "list");
  assert.deepEqual(list.loras[0].scale, [0, 0.25, 0.5, 0.75, 1]);
  assert.deepEqual(resolveAll(list, PLAN), resolveAll(s, PLAN));
  assert.deepEqual(resolveAll(edit.setLoraForm(list, PLAN, 0, "keyframes"), PLAN), resolveAll(s, PLAN));
  assert.throws(() => edit.addLora(s, "l"), /already listed/);
});

test("dragging a keyframe: chunk keyframes snap to the nearest boundary, time keyframes keep the frame", () => {
  let s = edit.addPromptKeyframe(parseSchedule({ prompt: "a" }), PLAN, 10, "b", "chunk");
  assert.deepEqual(s.prompts[0], { chunk: 0, text: "b" });
  s = edit.movePromptKeyframe(s, PLAN, 0, 168); // 168 is 47 from 121 and 49 from 217
  assert.deepEqual(s.prompts[0], { chunk: 1, text: "b" });
  s = edit.movePromptKeyframe(s, PLAN, 0, 169); // a tie (48 each way) goes to the later chunk
  assert.deepEqual(s.prompts[0], { chunk: 2, text: "b" });
  s = edit.setPromptKeyframePlace(s, PLAN, 0, "seconds");
  assert.equal(framesForSeconds(s.prompts[0].seconds, PLAN.fps), 217);
  s = edit.movePromptKeyframe(s, PLAN, 0, 300);
  assert.equal(framesForSeconds(s.prompts[0].seconds, PLAN.fps), 300);
  assert.deepEqual(resolveAll(s, PLAN).map((p) => p.prompt), ["a", "a", "a", "b", "b"]);
  for (const fps of [24, 23.976, 24000 / 1001, 25, 29.97, 60, 240, 7]) {
    const plan = makePlan({ fps, clip_frames: 121, tail_frames: 25, total_frames: 2000 });
    for (let f = 0; f < 2000; f += 7) {
      assert.equal(framesForSeconds(edit.pointAt(plan, f, "seconds").seconds, plan.fps), f, `frame ${f} at ${fps} fps`);
    }
  }
});

test("time points need a plan", () => {
  const s = parseSchedule({ prompts: [{ seconds: 2, text: "b" }] });
  assert.throws(() => resolveChunk(s, 1), /prompts\[0\].*needs the chain's plan/);
  assert.equal(scheduleToObject(s).prompts[0].seconds, 2);
});

test("anchors added from the picker: one per chunk and position; guidance per chunk or the default", () => {
  let s = parseSchedule({ anchors: [{ seconds: 9, image: "b.png", position: "last", strength: 0.5 }] }); // 9 s = chunk 2's boundary
  s = edit.addAnchor(s, PLAN, 2, "last", "c.png");
  assert.deepEqual(s.anchors, [{ seconds: 9, image: "c.png", position: "last", strength: 0.5 }], "the anchor already there gets the image");
  s = edit.addAnchor(s, PLAN, 2, "first", "d.png");
  assert.deepEqual(resolveChunk(s, 2, PLAN).anchors.map((a) => a.image), ["d.png", "c.png"]);
  assert.throws(() => edit.addAnchor(s, PLAN, 1, "middle", "e.png"), RangeError);
  s = edit.setAnchorStrength(s, 1, 0.75);
  assert.deepEqual(resolveChunk(s, 2, PLAN).anchors.map((a) => [a.image, a.strength]), [["d.png", 0.75], ["c.png", 0.5]]);
  for (const bad of [1.5, -0.1, NaN]) assert.throws(() => edit.setAnchorStrength(s, 1, bad), /strength is a number from 0 to 1/);
  s = edit.removeAnchor(s, 0);
  assert.deepEqual(s.anchors.map((a) => a.image), ["d.png"]);

  let g = edit.setGuidanceAt(defaultSchedule(), 3, 5);
  assert.equal(g.guidance, 5, "a first scale sets every chunk");
  g = edit.setGuidanceAt(g, 1, 3);
  assert.deepEqual(resolveAll(g, PLAN).map((c) => c.guidance), [5, 3, 5, 5, 5]);
  assert.equal(edit.setGuidanceAt(g, 2, null).guidance, null, "clearing a cell puts every chunk back on the default");
});
