// The editor's timeline box: a seconds ruler (with the anchors marked on it), the plan's chunks with their
// overlaps, the prompt keyframes (drag them along the ruler: chunk keyframes snap to the nearest chunk
// boundary, time keyframes keep their time) and the anchors' thumbnails where they sit. No ComfyUI imports.

import { secondsAt } from "../model/plan.js";
import { formatClock, LABEL_PX, rulerTicks } from "../model/ruler.js";
import { pointChunk, pointFrame } from "../model/schedule.js";
import * as edit from "../model/edit.js";
import { h } from "./dom.js";

export const TIMELINE_CSS = `
.ltx2-timeline{position:relative;height:116px;overflow:hidden;background:#1b1b1b;border:1px solid #444;border-radius:3px;user-select:none;touch-action:none}
.ltx2-timeline.ltx2-linked-timeline{height:60px}
.ltx2-ruler{position:absolute;left:0;right:0;top:0;height:18px;border-bottom:1px solid #555;background:#222}
.ltx2-tick{position:absolute;bottom:0;width:0;height:4px;border-left:1px solid #777}
.ltx2-tick.ltx2-major{height:7px;border-left-color:#bbb}
.ltx2-tick-label{position:absolute;top:1px;font-size:9px;color:#bbb;transform:translateX(-50%);white-space:nowrap;pointer-events:none}
.ltx2-tick-label.ltx2-first{transform:none;margin-left:2px}
.ltx2-tick-label.ltx2-last{transform:translateX(-100%);margin-left:-2px}
.ltx2-ruler-anchor{position:absolute;top:10px;width:6px;height:6px;margin-left:-3px;background:#d8d8d8;transform:rotate(45deg);pointer-events:auto}
.ltx2-drag-time{position:absolute;top:1px;font-size:9px;background:#e8b04a;color:#000;border-radius:2px;padding:0 3px;transform:translateX(-50%);white-space:nowrap;z-index:2}
.ltx2-chunk{position:absolute;height:16px;background:#3f6fa8;border:1px solid #8ab4e8;box-sizing:border-box;border-radius:2px;overflow:hidden;cursor:pointer;color:#fff;font-size:10px;padding-left:2px}
.ltx2-chunk-label{position:relative;z-index:1;text-shadow:0 0 2px #000}
.ltx2-chunk.ltx2-selected{background:#5d8fd0;border-color:#fff}
.ltx2-overlap{position:absolute;top:0;bottom:0;background:repeating-linear-gradient(45deg,rgba(255,255,255,.35) 0 3px,transparent 3px 6px)}
.ltx2-cut{position:absolute;top:0;bottom:0;right:0;background:rgba(0,0,0,.55)}
.ltx2-boundary{position:absolute;top:18px;bottom:0;width:0;border-left:1px dashed #666}
.ltx2-end{position:absolute;top:0;bottom:0;width:0;border-left:2px solid #c44}
.ltx2-key{position:absolute;top:64px;width:10px;height:14px;margin-left:-5px;background:#e8b04a;border-radius:2px 2px 5px 5px;cursor:ew-resize}
.ltx2-key.ltx2-time{background:#6fd08c}
.ltx2-snap{position:absolute;top:60px;height:22px;width:0;border-left:2px solid #e8b04a;opacity:.6}
.ltx2-anchor{position:absolute;top:86px;width:26px;height:26px;margin-left:-13px;border:1px solid #ccc;background:#555 center/cover no-repeat;box-sizing:border-box}
.ltx2-lane-label{position:absolute;left:2px;font-size:9px;opacity:.5;pointer-events:none}
`;

const CHUNK_ROWS = [21, 39]; // px: overlapping chunks alternate between two rows under the ruler

/** The frames the timeline spans: the whole plan, the last chunk's cut frames included. */
export const spanOf = (plan) => Math.max(plan.total_frames, plan.chunks[plan.chunks.length - 1].end);

/** The frame an anchor pins: its chunk's first or last rendered frame; null past the last chunk. */
export function anchorFrame(plan, anchor) {
  const chunk = pointChunk(anchor, plan);
  if (chunk >= plan.chunks.length) return null;
  const c = plan.chunks[chunk];
  return anchor.position === "first" ? c.start : c.end - 1;
}

/**
 * The seconds ruler, `width` px wide, with the anchors marked on it. ctx: { doc, plan, schedule (null: no
 * anchors), drag: { frame } | null }.
 */
export function drawRuler({ doc, plan, schedule, drag }, width) {
  const span = spanOf(plan);
  const pct = (frame) => `${(100 * frame) / span}%`;
  const ruler = h(doc, "div", { className: "ltx2-ruler", dataset: { width: Math.round(width) } });
  rulerTicks(span, plan.fps, width).forEach((t) => {
    ruler.append(h(doc, "div", { className: `ltx2-tick${t.label ? " ltx2-major" : ""}`, style: `left:${pct(t.frame)}` }));
    // the first label starts at its tick, one at the right edge ends there: both stay inside the box
    const edge = t.frame === 0 ? " ltx2-first" : (t.frame / span) * width > width - LABEL_PX / 2 ? " ltx2-last" : "";
    if (t.label) ruler.append(h(doc, "div", { className: `ltx2-tick-label${edge}`, style: `left:${pct(t.frame)}` }, t.label));
  });
  for (const a of schedule?.anchors ?? []) {
    const frame = anchorFrame(plan, a);
    if (frame !== null) ruler.append(h(doc, "div", { className: "ltx2-ruler-anchor", style: `left:${pct(frame)}`, title: `anchor ${a.image} at ${formatClock(secondsAt(frame, plan.fps), true)}` }));
  }
  if (drag) ruler.append(h(doc, "div", { className: "ltx2-drag-time", style: `left:${pct(drag.frame)}` }, formatClock(secondsAt(drag.frame, plan.fps), true)));
  return ruler;
}

/**
 * The timeline box. ctx: { doc, plan, schedule, selected, linked, width, dragging: { k, frame } | null,
 * imageUrl(name), select(index), tryEdit(fn), startDrag(event, k) }. While `linked`, only the ruler and
 * the chunks are drawn (the keyframes and anchors that count are the linked schedule's).
 */
export function drawTimeline(ctx) {
  const { doc, plan, schedule, selected, linked, dragging } = ctx;
  const span = spanOf(plan);
  const pct = (frame) => `${(100 * frame) / span}%`;
  const box = linked
    ? h(doc, "div", { className: "ltx2-timeline ltx2-linked-timeline" }) // the ruler and the chunks only
    : h(doc, "div", { className: "ltx2-timeline", title: "Double-click the prompt lane to add a prompt keyframe; drag a keyframe to move it" });
  box.append(drawRuler({ doc, plan, schedule: linked ? null : schedule, drag: dragging }, ctx.width));
  if (!linked) {
    box.append(h(doc, "div", { className: "ltx2-lane-label", style: "top:64px" }, "prompts"));
    box.append(h(doc, "div", { className: "ltx2-lane-label", style: "top:92px" }, "anchors"));
  }
  for (const c of plan.chunks) {
    box.append(h(doc, "div", { className: "ltx2-boundary", style: `left:${pct(c.keep[0])}` }));
    const bar = h(doc, "div", {
      className: `ltx2-chunk${c.index === selected ? " ltx2-selected" : ""}`,
      style: `left:${pct(c.start)};width:${pct(c.frames)};top:${CHUNK_ROWS[c.index % 2]}px`,
      title: `chunk ${c.index}: frames ${c.start}-${c.end - 1} rendered, [${c.keep[0]}, ${c.keep[1]}) kept`,
      dataset: { index: c.index, start: c.start, frames: c.frames },
      onclick: () => ctx.select(c.index),
    }, h(doc, "span", { className: "ltx2-chunk-label" }, String(c.index)));
    if (c.keep[0] > c.start) bar.append(h(doc, "div", { className: "ltx2-overlap", style: `left:0;width:${(100 * (c.keep[0] - c.start)) / c.frames}%` }));
    if (c.end > c.keep[1]) bar.append(h(doc, "div", { className: "ltx2-cut", style: `width:${(100 * (c.end - c.keep[1])) / c.frames}%`, title: `${c.end - c.keep[1]} frames cut` }));
    box.append(bar);
  }
  box.append(h(doc, "div", { className: "ltx2-end", style: `left:${pct(plan.total_frames)}`, title: `end: frame ${plan.total_frames}` }));
  if (linked) return box;

  schedule.prompts.forEach((key, k) => {
    const moving = dragging?.k === k;
    const frame = moving ? dragging.frame : pointFrame(key, plan);
    const shown = moving ? edit.movePromptKeyframe(schedule, plan, k, dragging.frame).prompts[k] : key;
    const chunk = pointChunk(shown, plan);
    const boundary = chunk < plan.chunks.length ? plan.chunks[chunk].keep[0] : plan.total_frames;
    box.append(h(doc, "div", { className: "ltx2-snap", style: `left:${pct(boundary)}` }));
    const marker = h(doc, "div", {
      className: `ltx2-key${key.chunk == null ? " ltx2-time" : ""}`,
      style: `left:${pct(key.chunk == null ? frame : boundary)}`,
      title: `${JSON.stringify(key.text)} from ${placeText(shown)} (chunk ${chunk})`,
      dataset: { key: k, chunk },
    });
    marker.addEventListener("pointerdown", (e) => ctx.startDrag(e, k));
    box.append(marker);
  });
  box.addEventListener("dblclick", (e) => {
    if (e.target !== box) return;
    ctx.tryEdit(() => edit.addPromptKeyframe(schedule, plan, frameAt(e, box, plan), "", "chunk"));
  });

  schedule.anchors.forEach((a, k) => {
    const frame = anchorFrame(plan, a);
    if (frame === null) return;
    const url = ctx.imageUrl?.(a.image);
    box.append(h(doc, "div", {
      className: "ltx2-anchor",
      style: `left:${pct(frame)};${url ? `background-image:url("${url}")` : ""}`,
      title: `${a.image}: ${a.position} frame of chunk ${pointChunk(a, plan)} (frame ${frame}), strength ${a.strength}`,
      dataset: { anchor: k, chunk: pointChunk(a, plan), frame },
    }));
  });
  return box;
}

/** The frame under the pointer of event `e` on the timeline `box`. */
export function frameAt(e, box, plan) {
  const r = box.getBoundingClientRect();
  return Math.round(((e.clientX - r.left) / Math.max(1, r.width)) * spanOf(plan));
}

export function placeText(p) {
  if (p.chunk != null) return `chunk ${p.chunk}`;
  if (p.seconds != null) return `${p.seconds} s`;
  return `frame ${p.frame}`;
}
