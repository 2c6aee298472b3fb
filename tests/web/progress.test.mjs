// The progress panel's model: what it shows after a run's events.
import assert from "node:assert/strict";
import { test } from "node:test";

import { formatDuration, idleProgress, progressLines, reduceProgress } from "../../web/model/progress.js";

const run = (events) => events.reduce(reduceProgress, idleProgress());
const meta = { node: "7", prompt_id: "p1" };

test("a run: chunk k of N, step i of n, render speed, ETA, the last finished chunk's preview", () => {
  const s = run([
    { ...meta, event: "chain_start", chunks: 3, total_frames: 300, frame_rate: 24, warnings: [], eta_seconds: null },
    { ...meta, event: "chunk_start", chunk: 0, chunks: 3, resumed: false, prompt: "a", eta_seconds: null, render_speed: null },
    { ...meta, event: "denoise_step", chunk: 0, chunks: 3, step: 4, steps: 8, eta_seconds: 125, render_speed: 1.5 },
    { ...meta, event: "chunk_done", chunk: 0, chunks: 3, resumed: false, frames_done: 121, total_frames: 300, seconds: 60, eta_seconds: 120, render_speed: 2.016, preview: "data:image/jpeg;base64,AAAA" },
    { ...meta, event: "chunk_start", chunk: 1, chunks: 3, resumed: false, prompt: "a", eta_seconds: 119, render_speed: 2.016 },
    { ...meta, event: "denoise_step", chunk: 1, chunks: 3, step: 2, steps: 8, eta_seconds: 100, render_speed: 2.016 },
  ]);
  assert.deepEqual(progressLines(s), ["Chunk 2 of 3", "Step 2 of 8", "Frames 121 of 300", "Speed 2.02 frames/s", "ETA 1:40"]);
  assert.equal(s.preview, "data:image/jpeg;base64,AAAA");
  assert.equal(s.previewChunk, 0);
});

test("errors and cancel are shown; done ends the run", () => {
  const start = { ...meta, event: "chain_start", chunks: 2, total_frames: 100, frame_rate: 24 };
  const err = run([start, { ...meta, event: "error", chunk: 1, cancelled: false, message: "out of memory" }]);
  assert.equal(progressLines(err).at(-1), "Error in chunk 1: out of memory");
  const cancelled = run([start, { ...meta, event: "error", chunk: 0, cancelled: true, message: "interrupted" }]);
  assert.equal(cancelled.status, "cancelled");
  assert.match(progressLines(cancelled).at(-1), /^Cancelled/);
  const done = run([start, { ...meta, event: "done", chunks: 2, total_frames: 100, rendered_chunks: 1, seconds: 9, eta_seconds: 0, render_speed: 11.1 }]);
  assert.deepEqual(progressLines(done).slice(-2), ["Speed 11.10 frames/s", "Done"]);
});

test("a new prompt's events replace the old run's state", () => {
  const s = run([
    { ...meta, event: "chunk_done", chunk: 3, chunks: 4, frames_done: 400, total_frames: 481, preview: "data:x" },
    { node: "7", prompt_id: "p2", event: "chunk_start", chunk: 0, chunks: 5, resumed: true, prompt: "b" },
  ]);
  assert.equal(s.preview, null);
  assert.equal(s.framesDone, 0);
  assert.deepEqual(progressLines(s).slice(0, 1), ["Chunk 1 of 5 (resumed)"]);
});

test("frame_rate is the video's frame rate, never the speed", () => {
  const s = run([
    { ...meta, event: "chain_start", chunks: 2, total_frames: 100, frame_rate: 24, render_speed: null },
    { ...meta, event: "chunk_done", chunk: 0, chunks: 2, frames_done: 50, total_frames: 100, frame_rate: 24, render_speed: 1.25 },
  ]);
  assert.equal(s.speed, 1.25);
  assert.equal(progressLines(s).find((line) => line.startsWith("Speed")), "Speed 1.25 frames/s");
  assert.equal(progressLines(run([{ ...meta, event: "chain_start", chunks: 2, total_frames: 100, frame_rate: 24 }])).find((l) => l.startsWith("Speed")), "Speed –");
});

test("durations", () => {
  assert.deepEqual([formatDuration(null), formatDuration(42.4), formatDuration(187), formatDuration(3723)], ["–", "42 s", "3:07", "1:02:03"]);
});

test("resumed chunks are marked, each chunk's state is kept for the strip", () => {
  const s = run([
    { ...meta, event: "chain_start", chunks: 4, total_frames: 400, frame_rate: 24 },
    { ...meta, event: "chunk_start", chunk: 0, chunks: 4, resumed: true, prompt: "a" },
    { ...meta, event: "chunk_done", chunk: 0, chunks: 4, resumed: true, frames_done: 121, total_frames: 400, seconds: 1 },
    { ...meta, event: "chunk_start", chunk: 1, chunks: 4, resumed: true, prompt: "a" },
    { ...meta, event: "chunk_done", chunk: 1, chunks: 4, resumed: true, frames_done: 217, total_frames: 400, seconds: 1 },
    { ...meta, event: "chunk_start", chunk: 2, chunks: 4, resumed: false, prompt: "a" },
    { ...meta, event: "denoise_step", chunk: 2, chunks: 4, step: 1, steps: 8, eta_seconds: 60 },
  ]);
  assert.deepEqual(s.chunkStates, ["resumed", "resumed", "running", "pending"]);
  assert.deepEqual(progressLines(s).slice(0, 3), ["Chunk 3 of 4", "Resumed (from the last run): chunks 1, 2", "Step 1 of 8"]);
  const done = run([{ ...meta, event: "chain_start", chunks: 1, total_frames: 97, frame_rate: 24 }, { ...meta, event: "chunk_start", chunk: 0, chunks: 1, resumed: false }, { ...meta, event: "chunk_done", chunk: 0, chunks: 1, resumed: false, frames_done: 97, total_frames: 97 }]);
  assert.deepEqual(done.chunkStates, ["done"]);
});
