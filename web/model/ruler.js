// The timeline's seconds ruler: where its ticks go and what they say, for a span of frames at a frame rate
// drawn a given number of pixels wide. Pure module: no ComfyUI imports.

import { fpsValue } from "./plan.js";

/** Labelled intervals in seconds, with the number of parts each splits into by unlabelled ticks. */
const STEPS = [
  [0.1, 5], [0.2, 4], [0.5, 5], [1, 4], [2, 4], [5, 5], [10, 5], [15, 3], [30, 3], [60, 4], [120, 4], [300, 5], [600, 5], [900, 3],
  [1800, 3], [3600, 4], [7200, 4], [18000, 5], [36000, 5],
];

/** The least room, in pixels, a label gets ("1:23:45" at 9 px fits). */
export const LABEL_PX = 48;

/** A time as the ruler writes it: "0:15", "12:05", "1:02:03", and tenths below a second step ("0:01.5"). */
export function formatClock(seconds, tenths = false) {
  const units = Math.round(seconds * (tenths ? 10 : 1)); // whole seconds, or tenths
  const whole = tenths ? Math.floor(units / 10) : units;
  const pad = (x) => String(x).padStart(2, "0");
  const [h, m, s] = [Math.floor(whole / 3600), Math.floor((whole % 3600) / 60), whole % 60];
  const text = h ? `${h}:${pad(m)}:${pad(s)}` : `${m}:${pad(s)}`;
  return tenths ? `${text}.${units % 10}` : text;
}

/**
 * The ruler's ticks for `spanFrames` frames at `fps` ({n, d}) drawn `widthPx` wide: the smallest labelled
 * interval whose labels are at least LABEL_PX apart, each labelled tick `{ frame, seconds, label }` and the
 * unlabelled ones between `{ frame, seconds, label: null }`, in order, all within [0, spanFrames].
 */
export function rulerTicks(spanFrames, fps, widthPx) {
  const rate = fpsValue(fps);
  const seconds = spanFrames / rate;
  const pxPerSecond = Math.max(1, widthPx) / Math.max(seconds, 1e-9);
  const [step, parts] = STEPS.find(([s]) => s * pxPerSecond >= LABEL_PX) ?? STEPS[STEPS.length - 1];
  const minor = step / parts;
  const ticks = [];
  for (let k = 0; k * minor <= seconds + 1e-9; k++) {
    const t = k * minor;
    const labelled = k % parts === 0;
    ticks.push({ frame: t * rate, seconds: t, label: labelled ? formatClock(t, step < 1) : null });
  }
  return ticks;
}
