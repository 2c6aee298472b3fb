// The timeline's seconds ruler: label spacing for the plan's length and the drawn width, and the labels.
import assert from "node:assert/strict";
import { test } from "node:test";

import { asFps } from "../../web/model/plan.js";
import { formatClock, LABEL_PX, rulerTicks } from "../../web/model/ruler.js";

const labels = (ticks) => ticks.filter((t) => t.label).map((t) => t.label);

test("labels like 0:15, with tenths below a one-second step", () => {
  assert.equal(formatClock(0), "0:00");
  assert.equal(formatClock(15), "0:15");
  assert.equal(formatClock(754), "12:34");
  assert.equal(formatClock(3723), "1:02:03");
  assert.equal(formatClock(1.5, true), "0:01.5");
  assert.equal(formatClock(59.958, true), "1:00.0");
  assert.equal(formatClock(0.3, true), "0:00.3");
});

test("a minute at 24 fps, 532 px wide: a label every 10 s, unlabelled ticks between", () => {
  const ticks = rulerTicks(1440, asFps(24), 532);
  assert.deepEqual(labels(ticks), ["0:00", "0:10", "0:20", "0:30", "0:40", "0:50", "1:00"]);
  assert.equal(ticks.length, 31);
  assert.deepEqual(ticks.slice(0, 2).map((t) => t.frame), [0, 48]);
});

test("the step follows the length, the width and the frame rate; labels never crowd", () => {
  for (const [frames, fps, width] of [[97, 24, 600], [481, 24, 300], [481, 24, 1200], [43200, 24, 500], [864000, 24, 700], [1799, 29.97, 450], [161, 240, 500], [30, 1, 500]]) {
    const rate = asFps(fps);
    const ticks = rulerTicks(frames, rate, width);
    const marked = ticks.filter((t) => t.label);
    assert.ok(marked.length >= 2, `${frames}@${fps}: at least the start and one more label`);
    assert.ok(ticks.every((t) => t.frame >= 0 && t.frame <= frames + 1e-6), `${frames}@${fps}: within the span`);
    const gap = ((marked[1].frame - marked[0].frame) / frames) * width;
    assert.ok(gap >= LABEL_PX, `${frames}@${fps} on ${width}px: labels ${gap}px apart`);
    assert.ok(gap < LABEL_PX * 6, `${frames}@${fps} on ${width}px: not needlessly sparse (${gap}px)`);
  }
});
