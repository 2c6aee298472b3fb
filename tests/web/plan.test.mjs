// The browser's plan math against the Python plan (ltx2/chain/plan.py), case by case.
import assert from "node:assert/strict";
import { test } from "node:test";

import { PlanError, asFps, chunkForFrame, framesForSeconds, makePlan, planFromWidgets, planToDict } from "../../web/model/plan.js";
import { cli, oracle } from "./python.mjs";

test("plans match `python -m ltx2 plan --json`", () => {
  const cases = [
    ["--frames", "481"],
    ["--frames", "300"],
    ["--frames", "1"],
    ["--frames", "121"],
    ["--frames", "122", "--clip-frames", "97", "--tail-frames", "17"],
    ["--seconds", "20", "--fps", "24000/1001"],
    ["--seconds", "12.34", "--fps", "23.976"],
    ["--seconds", "7.5", "--fps", "25", "--clip-frames", "161", "--tail-frames", "33"],
    ["--frames", "5000", "--clip-frames", "257", "--tail-frames", "9"],
  ];
  for (const args of cases) {
    const expected = cli("plan", ...args, "--json");
    const opt = (name, fallback) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
    const plan = makePlan({
      fps: opt("--fps", "24"), // the CLI hands the frame rate over as text
      clip_frames: Number(opt("--clip-frames", "121")),
      tail_frames: Number(opt("--tail-frames", "25")),
      total_frames: args.includes("--frames") ? Number(opt("--frames")) : null,
      seconds: args.includes("--seconds") ? Number(opt("--seconds")) : null,
    });
    assert.deepEqual(planToDict(plan), expected, args.join(" "));
  }
});

function randomCases(count, seed) {
  let x = seed;
  const rand = () => ((x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const pickOne = (list) => list[Math.floor(rand() * list.length)];
  const cases = [];
  for (let i = 0; i < count; i++) {
    const clip = 8 * (1 + Math.floor(rand() * 40)) + 1;
    const tail = pickOne([1, 9, 17, 25, 33, clip - 8, clip, 24, 0]);
    const fps = pickOne([24, 25, 30, 23.976, 29.97, 24000 / 1001, 59.94, 12.5, 1, 0.5, 240, 241, 8.333]);
    const bySeconds = rand() < 0.4;
    const kwargs = { fps, clip_frames: clip, tail_frames: tail, max_chunks: pickOne([200, 5, 1]) };
    if (bySeconds) kwargs.seconds = pickOne([0.01, 1, 2.5, 10, 33.3, 61.7, 100.123]);
    else kwargs.total_frames = pickOne([1, 2, 9, 10, clip, clip + 1, 481, 1000, 4321, 0]);
    cases.push(kwargs);
  }
  return cases;
}

test("random plans and chunk_for_frame match Python, errors name the same field", () => {
  const cases = randomCases(400, 7);
  const expected = oracle(cases.map((plan) => ({ plan })));
  let planned = 0;
  cases.forEach((kwargs, i) => {
    const want = expected[i];
    let plan;
    try {
      plan = makePlan({ total_frames: null, seconds: null, ...kwargs });
    } catch (e) {
      assert.ok(e instanceof PlanError, e.message);
      assert.equal(e.field, want.error, `${JSON.stringify(kwargs)}: ${e.message}`);
      return;
    }
    assert.equal(want.error, undefined, `${JSON.stringify(kwargs)} fails in Python (${want.error}) but not here`);
    const { chunk_for_frame: nearest, ...dict } = want;
    assert.deepEqual(planToDict(plan), dict, JSON.stringify(kwargs));
    assert.deepEqual(nearest.map((_, f) => chunkForFrame(plan, f)), nearest, JSON.stringify(kwargs));
    planned++;
  });
  assert.ok(planned > 100, `only ${planned} valid plans among the cases`);
});

test("frames_for_seconds matches Python, halves included", () => {
  const pairs = [];
  for (const fps of [24, 25, 30, 23.976, 24000 / 1001, 29.97, 60, 12.5, 7]) {
    for (const s of [0, 0.02, 0.5, 1 / 48, 0.1, 5, 8.5, 10.01, 12.345, 100.5, 1e-9, 333.333]) pairs.push([s, fps]);
    for (let f = 0; f < 50; f++) pairs.push([(f + 0.5) / fps, fps]); // exact halves, as far as doubles get
  }
  const expected = oracle(pairs.map((p) => ({ frames_for_seconds: p })));
  pairs.forEach(([s, fps], i) => assert.equal(framesForSeconds(s, asFps(fps)), expected[i], `${s} s at ${fps}`));
});

test("widget values: defaults when missing, seconds above 0 override total_frames", () => {
  assert.equal(planFromWidgets({}).total_frames, 481);
  assert.equal(planFromWidgets({ total_frames: undefined, fps: undefined }).chunks.length, 5);
  const plan = planFromWidgets({ total_frames: 481, seconds: 10, fps: 25 });
  assert.equal(plan.total_frames, 250);
  assert.equal(planFromWidgets({ total_frames: 200, seconds: 0 }).total_frames, 200);
  assert.throws(() => planFromWidgets({ clip_frames: 120 }), (e) => e.field === "clip_frames" && /97 or 105|113 or 121/.test(e.message));
});
