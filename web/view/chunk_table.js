// The editor's per-chunk table: each chunk's time, prompt, seed, handoff, guidance and LoRA scales, and
// (shown when set, or under "more columns") denoise, soundtrack strength and tail noise. Every cell edits
// that chunk only. No ComfyUI imports.

import { secondsAt } from "../model/plan.js";
import { defaultSchedule, pick } from "../model/schedule.js";
import * as edit from "../model/edit.js";
import { committing, h } from "./dom.js";

export const TABLE_CSS = `
.ltx2-table{border-collapse:collapse;width:100%;table-layout:fixed}
.ltx2-table td,.ltx2-table th{border:1px solid #444;padding:1px 3px;text-align:left;vertical-align:top;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.ltx2-table tr.ltx2-selected td{background:#2a3b52}
.ltx2-table input{width:100%;min-width:0}
.ltx2-table input::placeholder{color:#999}
.ltx2-table input::-webkit-inner-spin-button,.ltx2-table input::-webkit-outer-spin-button{-webkit-appearance:none;margin:0}
.ltx2-table input[type=number]{-moz-appearance:textfield;padding:0 2px}
.ltx2-more{align-self:flex-start}
`;

/** The columns that show only when set or asked for: [field, header, tooltip]. */
const MORE = [
  ["denoise", "denoise", "With a source video: how much of the chunk is made anew (1 = from noise). Below 1 needs a source video."],
  ["audio_strength", "sound", "With a soundtrack: how firmly the chunk's sound holds the track (1 = exactly). Below 1 needs a soundtrack."],
  ["tail_noise", "tail noise", "Light re-noise of the handed-over tail (0 = clean)."],
];

const isDefault = (schedule, field) => {
  const value = schedule[field];
  const fallback = defaultSchedule()[field];
  return Array.isArray(value) ? value.every((v) => v === fallback) : value === fallback;
};

/** The "more columns" columns shown: those set away from their default, or all when `more`. */
export const shownMore = (schedule, more) => MORE.filter(([field]) => more || !isDefault(schedule, field));

function numberInput(doc, value, step, onchange, props = {}) {
  return committing(h(doc, "input", { type: "number", step, value, ...props }), (v) => v !== "" && onchange(Number(v)));
}

/** ctx: { doc, plan, schedule, resolved, selected, more, select(index), toggleMore(), tryEdit(fn) }. */
export function drawChunkTable(ctx) {
  const { doc, plan, schedule, resolved } = ctx;
  const extra = shownMore(schedule, ctx.more);
  const hidden = MORE.length - shownMore(schedule, false).length;
  const guidanceTip = "Guidance scale of this chunk; empty = the model's default for every chunk. A first scale applies to every chunk, later ones to their chunk; clear one to go back to the default.";
  // fixed column widths: the prompt column takes what is left, so the table fits the node's width
  const columns = [
    ["#", 26, "chunk"], ["time (s)", 64, "seconds kept from this chunk"], ["prompt", null, "the prompt in effect"], ["seed", 72, "seed"],
    ["handoff", 50, "how firmly the chunk holds the previous chunk's tail (1 = exactly)"], ["guidance", 58, guidanceTip],
    ...schedule.loras.map((l) => [l.name, 50, `LoRA ${l.name}: scale per chunk`]), ...extra.map(([, head, tip]) => [head, 50, tip]),
  ];
  const head = h(doc, "tr", {}, columns.map(([t, width, tip]) => h(doc, "th", { title: tip, style: width ? `width:${width}px` : "" }, t)));
  const rows = plan.chunks.map((c) => {
    const p = resolved[c.index];
    const [t0, t1] = [secondsAt(c.keep[0], plan.fps), secondsAt(c.keep[1], plan.fps)];
    const at = (fn) => ctx.tryEdit(fn);
    return h(doc, "tr", { className: c.index === ctx.selected ? "ltx2-selected" : "", dataset: { chunk: c.index }, onclick: () => ctx.select(c.index) },
      h(doc, "td", {}, String(c.index)),
      h(doc, "td", { title: `${t0.toFixed(2)}–${t1.toFixed(2)} s: frames [${c.keep[0]}, ${c.keep[1]}) kept` }, `${t0.toFixed(1)}–${t1.toFixed(1)}`),
      h(doc, "td", { className: "ltx2-prompt-cell", title: p.prompt }, p.prompt),
      h(doc, "td", { className: "ltx2-seed" }, numberInput(doc, p.seed, 1, (v) => at(() => edit.setChunkValue(schedule, "seed", c.index, Math.round(v))))),
      h(doc, "td", { className: "ltx2-handoff" }, numberInput(doc, p.handoff_strength, 0.05, (v) => at(() => edit.setChunkValue(schedule, "handoff_strength", c.index, v)), { min: 0, max: 1 })),
      h(doc, "td", { className: "ltx2-guidance" }, guidanceInput(doc, p.guidance, (v) => at(() => edit.setGuidanceAt(schedule, c.index, v)))),
      schedule.loras.map((lora, k) => h(doc, "td", { className: "ltx2-lora-cell" },
        numberInput(doc, +p.loras[lora.name].toFixed(4), 0.05, (v) => at(() => edit.setLoraScaleAt(schedule, plan, k, c.index, v))))),
      extra.map(([field]) => h(doc, "td", { className: `ltx2-${field.replace("_", "-")}` },
        numberInput(doc, pick(schedule[field], c.index), 0.05, (v) => at(() => edit.setChunkValue(schedule, field, c.index, v)), { min: 0, max: 1 }))));
  });
  const more = h(doc, "button", { className: "ltx2-more", onclick: ctx.toggleMore },
    ctx.more ? "▾ fewer columns" : `▸ more columns${hidden ? ` (${MORE.filter(([f]) => isDefault(schedule, f)).map(([, head]) => head).join(", ")})` : ""}`);
  return [h(doc, "table", { className: "ltx2-table" }, head, rows), hidden || ctx.more ? more : null];
}

/** A guidance cell: a scale, or empty ("default") for the model's default; clearing it commits the default. */
function guidanceInput(doc, value, onchange) {
  return committing(h(doc, "input", { type: "number", step: 0.5, min: 0, max: 100, value: value ?? "", placeholder: "default" }),
    (v) => onchange(v === "" ? null : Number(v)));
}
