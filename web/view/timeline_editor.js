// The chunk timeline editor: draws the plan's chunks with their overlaps, the prompt keyframes (drag them;
// chunk keyframes snap to the nearest chunk boundary, time keyframes keep their time), anchors where they
// sit, and a per-chunk table of prompts, seeds and LoRA scales. It reads and writes the schedule JSON
// through the callbacks it is given, so it runs the same on a ComfyUI node and in a test page.

import { fpsValue, planFromWidgets, secondsAt } from "../model/plan.js";
import {
  defaultSchedule, parseSchedule, pick, pointChunk, pointFrame, resolveAll, scheduleToJSON,
  scheduleToObject, scheduleWarnings, validateSchedule,
} from "../model/schedule.js";
import * as edit from "../model/edit.js";
import { ensureStyle, h } from "./dom.js";

const CSS = `
.ltx2-editor{font:11px/1.35 sans-serif;color:var(--input-text,#ddd);display:flex;flex-direction:column;gap:6px;padding:4px;box-sizing:border-box;overflow:hidden auto;height:100%;position:relative}
.ltx2-editor > *{flex:none}
.ltx2-editor textarea,.ltx2-editor input,.ltx2-editor select{font:11px sans-serif;background:var(--comfy-input-bg,#222);color:inherit;border:1px solid #555;border-radius:3px;box-sizing:border-box}
.ltx2-editor textarea{width:100%;resize:vertical;min-height:30px}
.ltx2-editor button{font:11px sans-serif;background:#333;color:inherit;border:1px solid #666;border-radius:3px;cursor:pointer;padding:1px 6px}
.ltx2-summary{opacity:.85}
.ltx2-linked{color:#fc6;border:1px solid #a83;border-radius:3px;padding:3px}
.ltx2-error{color:#f77;white-space:pre-wrap}
.ltx2-warning{color:#fc6}
.ltx2-timeline{position:relative;height:96px;overflow:hidden;background:#1b1b1b;border:1px solid #444;border-radius:3px;user-select:none;touch-action:none}
.ltx2-chunk{position:absolute;height:16px;background:#3f6fa8;border:1px solid #8ab4e8;box-sizing:border-box;border-radius:2px;overflow:hidden;cursor:pointer;color:#fff;font-size:10px;padding-left:2px}
.ltx2-chunk.ltx2-selected{background:#5d8fd0;border-color:#fff}
.ltx2-overlap{position:absolute;top:0;bottom:0;background:repeating-linear-gradient(45deg,rgba(255,255,255,.35) 0 3px,transparent 3px 6px)}
.ltx2-cut{position:absolute;top:0;bottom:0;right:0;background:rgba(0,0,0,.55)}
.ltx2-boundary{position:absolute;top:0;bottom:0;width:0;border-left:1px dashed #666}
.ltx2-end{position:absolute;top:0;bottom:0;width:0;border-left:2px solid #c44}
.ltx2-key{position:absolute;top:44px;width:10px;height:14px;margin-left:-5px;background:#e8b04a;border-radius:2px 2px 5px 5px;cursor:ew-resize}
.ltx2-key.ltx2-time{background:#6fd08c}
.ltx2-snap{position:absolute;top:40px;height:22px;width:0;border-left:2px solid #e8b04a;opacity:.6}
.ltx2-anchor{position:absolute;top:66px;width:24px;height:24px;margin-left:-12px;border:1px solid #ccc;background:#555 center/cover no-repeat;box-sizing:border-box}
.ltx2-lane-label{position:absolute;left:2px;font-size:9px;opacity:.5;pointer-events:none}
.ltx2-row{display:flex;gap:4px;align-items:center}
.ltx2-row > input[type=text]{flex:1;min-width:0}
.ltx2-table{border-collapse:collapse;width:100%;table-layout:fixed}
.ltx2-table td,.ltx2-table th{border:1px solid #444;padding:1px 3px;text-align:left;vertical-align:top}
.ltx2-table tr.ltx2-selected td{background:#2a3b52}
.ltx2-table input{width:100%;min-width:0}
.ltx2-prompt-cell{overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.ltx2-section{font-weight:bold;opacity:.8;margin-top:2px}
`;

const PLACES = ["chunk", "seconds", "frame"];

const PAD = 4; // px of padding around the editor's sections (.ltx2-editor)

/**
 * options: { document, readSchedule(): string, writeSchedule(text), planInputs(): {total_frames, seconds,
 * fps, clip_frames, tail_frames}, planNote(): string | null (where the plan comes from), linked(): string |
 * null (a notice: the schedule edited here is not used; the editor is then read-only), imageUrl(name): string
 * | null, onRender() (after each redraw) }.
 * Returns { element, load(), refresh(), destroy(), state(), contentHeight() }.
 */
export function createTimelineEditor(options) {
  const doc = options.document ?? globalThis.document;
  ensureStyle(doc, "ltx2chain-editor-style", CSS);
  const root = h(doc, "div", { className: "ltx2-editor" });
  // keep the canvas from treating clicks, drags and wheel turns inside the editor as its own
  for (const type of ["pointerdown", "wheel", "keydown"]) root.addEventListener(type, (e) => e.stopPropagation());

  let schedule = defaultSchedule();
  let loadError = null; // the stored JSON is not a valid schedule: show why, edit nothing
  let notice = null; // an edit that was refused
  let plan = null;
  let planError = null;
  let selected = 0;
  let drag = null;
  let linked = null; // the notice shown while the node's schedule is not the one used

  function computePlan() {
    try {
      plan = planFromWidgets(options.planInputs?.() ?? {});
      planError = null;
    } catch (e) {
      plan = null;
      planError = e.message;
    }
  }

  /** Re-reads the schedule JSON (workflow load) and redraws. */
  function load() {
    try {
      schedule = parseSchedule(options.readSchedule?.() ?? "");
      loadError = null;
    } catch (e) {
      loadError = e.message;
    }
    notice = null;
    refresh();
  }

  /** Recomputes the plan from the node's inputs and redraws. */
  function refresh() {
    linked = options.linked?.() ?? null;
    computePlan();
    render();
  }

  function commit(next) {
    const problems = validateSchedule(scheduleToObject(next));
    if (problems.length) {
      notice = problems.map(([where, what]) => `${where}: ${what}`).join("\n");
      render();
      return;
    }
    schedule = next;
    loadError = null;
    notice = null;
    options.writeSchedule?.(scheduleToJSON(schedule));
    render();
  }

  const tryEdit = (fn) => {
    try {
      commit(fn());
    } catch (e) {
      notice = e.message;
      render();
    }
  };

  // --- drawing -------------------------------------------------------------------------------------

  function render() {
    draw();
    options.onRender?.();
  }

  function draw() {
    root.replaceChildren();
    root.append(summary());
    if (linked) {
      root.append(h(doc, "div", { className: "ltx2-linked" }, linked));
      if (plan) root.append(timeline());
      return;
    }
    if (loadError) {
      root.append(h(doc, "div", { className: "ltx2-error" }, `The schedule cannot be edited here: ${loadError}`));
      root.append(h(doc, "button", { onclick: () => commit(defaultSchedule()) }, "Start over with an empty schedule"));
      return;
    }
    if (notice) root.append(h(doc, "div", { className: "ltx2-error" }, notice));
    if (!plan) return;
    let resolved;
    try {
      resolved = resolveAll(schedule, plan);
    } catch (e) {
      root.append(h(doc, "div", { className: "ltx2-error" }, e.message));
      return;
    }
    root.append(...[timeline(), globals(), promptKeys(), loraSection(), chunkTable(resolved), anchorList(), warnings()].filter(Boolean));
  }

  function summary() {
    if (!plan) return h(doc, "div", { className: "ltx2-error" }, `Plan: ${planError}`);
    const seconds = secondsAt(plan.total_frames, plan.fps);
    const n = plan.chunks.length;
    const note = options.planNote?.();
    return h(doc, "div", { className: "ltx2-summary" },
      `${n} chunk${n === 1 ? "" : "s"} of up to ${plan.clip_frames} frames, tail ${plan.tail_frames}; ` +
        `${plan.total_frames} frames at ${+fpsValue(plan.fps).toFixed(3)} fps = ${seconds.toFixed(2)} s` +
        (note ? ` (${note})` : ""));
  }

  const span = () => Math.max(plan.total_frames, plan.chunks[plan.chunks.length - 1].end);
  const pct = (frame) => `${(100 * frame) / span()}%`;

  function timeline() {
    const box = h(doc, "div", { className: "ltx2-timeline", title: "Double-click the prompt lane to add a prompt keyframe" });
    box.append(h(doc, "div", { className: "ltx2-lane-label", style: "top:44px" }, "prompts"));
    box.append(h(doc, "div", { className: "ltx2-lane-label", style: "top:72px" }, "anchors"));
    for (const c of plan.chunks) {
      box.append(h(doc, "div", { className: "ltx2-boundary", style: `left:${pct(c.keep[0])}` }));
      const bar = h(doc, "div", {
        className: `ltx2-chunk${c.index === selected ? " ltx2-selected" : ""}`,
        style: `left:${pct(c.start)};width:${pct(c.frames)};top:${c.index % 2 ? 21 : 3}px`,
        title: `chunk ${c.index}: frames ${c.start}-${c.end - 1} rendered, [${c.keep[0]}, ${c.keep[1]}) kept`,
        dataset: { index: c.index, start: c.start, frames: c.frames },
        onclick: () => { selected = c.index; render(); },
      }, String(c.index));
      if (c.keep[0] > c.start) bar.append(h(doc, "div", { className: "ltx2-overlap", style: `left:0;width:${(100 * (c.keep[0] - c.start)) / c.frames}%` }));
      if (c.end > c.keep[1]) bar.append(h(doc, "div", { className: "ltx2-cut", style: `width:${(100 * (c.end - c.keep[1])) / c.frames}%`, title: `${c.end - c.keep[1]} frames cut` }));
      box.append(bar);
    }
    box.append(h(doc, "div", { className: "ltx2-end", style: `left:${pct(plan.total_frames)}`, title: `end: frame ${plan.total_frames}` }));
    if (linked) return box; // the schedule's keyframes and anchors are those of the linked schedule

    schedule.prompts.forEach((key, k) => {
      const frame = drag?.k === k ? drag.frame : pointFrame(key, plan);
      const shown = drag?.k === k ? edit.movePromptKeyframe(schedule, plan, k, drag.frame).prompts[k] : key;
      const chunk = pointChunk(shown, plan);
      const boundary = chunk < plan.chunks.length ? plan.chunks[chunk].keep[0] : plan.total_frames;
      box.append(h(doc, "div", { className: "ltx2-snap", style: `left:${pct(boundary)}` }));
      const marker = h(doc, "div", {
        className: `ltx2-key${key.chunk == null ? " ltx2-time" : ""}`,
        style: `left:${pct(key.chunk == null ? frame : boundary)}`,
        title: `${JSON.stringify(key.text)} from ${placeText(shown)} (chunk ${chunk})`,
        dataset: { key: k, chunk },
      });
      marker.addEventListener("pointerdown", (e) => startDrag(e, k, box));
      box.append(marker);
    });
    box.addEventListener("dblclick", (e) => {
      if (e.target !== box) return;
      tryEdit(() => edit.addPromptKeyframe(schedule, plan, frameAt(e, box), "", "chunk"));
    });

    schedule.anchors.forEach((a, k) => {
      const chunk = pointChunk(a, plan);
      if (chunk >= plan.chunks.length) return;
      const c = plan.chunks[chunk];
      const frame = a.position === "first" ? c.start : c.end - 1;
      const url = options.imageUrl?.(a.image);
      box.append(h(doc, "div", {
        className: "ltx2-anchor",
        style: `left:${pct(frame)};${url ? `background-image:url("${url}")` : ""}`,
        title: `${a.image}: ${a.position} frame of chunk ${chunk} (frame ${frame}), strength ${a.strength}`,
        dataset: { anchor: k, chunk, frame },
      }));
    });
    return box;
  }

  const frameAt = (e, box) => {
    const r = box.getBoundingClientRect();
    return Math.round(((e.clientX - r.left) / Math.max(1, r.width)) * span());
  };

  function startDrag(e, k, box) {
    e.preventDefault(); // the marker is redrawn while it moves, so follow the pointer on the document
    drag = { k, frame: pointFrame(schedule.prompts[k], plan) };
    const move = (ev) => {
      drag.frame = Math.min(Math.max(0, frameAt(ev, box)), plan.total_frames - 1);
      render();
    };
    const up = () => {
      doc.removeEventListener("pointermove", move);
      doc.removeEventListener("pointerup", up);
      const frame = drag.frame;
      drag = null;
      tryEdit(() => edit.movePromptKeyframe(schedule, plan, k, frame));
    };
    doc.addEventListener("pointermove", move);
    doc.addEventListener("pointerup", up);
  }

  function placeText(p) {
    if (p.chunk != null) return `chunk ${p.chunk}`;
    if (p.seconds != null) return `${p.seconds} s`;
    return `frame ${p.frame}`;
  }

  /** `el` commits its value with `commit(value)` on change and on Enter; Escape puts back the saved value. */
  function committing(el, commit, { enter = true } = {}) {
    const saved = el.value;
    let done = false;
    const finish = () => {
      if (done || el.value === saved) return;
      done = true;
      commit(el.value);
    };
    el.addEventListener("change", finish);
    el.addEventListener("keydown", (e) => {
      if (e.key === "Enter" && enter && !e.shiftKey) {
        e.preventDefault();
        finish();
      } else if (e.key === "Escape") {
        e.preventDefault();
        el.value = saved;
        el.blur();
      }
    });
    return el;
  }

  function textArea(value, placeholder, onchange) {
    // Enter makes a new line in a prompt; the prompt is saved when the box loses focus (Escape cancels)
    return committing(h(doc, "textarea", { value, placeholder, rows: 2 }), onchange, { enter: false });
  }

  function globals() {
    return h(doc, "div", {},
      h(doc, "div", { className: "ltx2-section" }, "Prompt (from chunk 0)"),
      textArea(schedule.prompt, "prompt", (v) => tryEdit(() => edit.setField(schedule, "prompt", v))),
      h(doc, "div", { className: "ltx2-section" }, "Negative prompt (every chunk)"),
      textArea(schedule.negative_prompt, "negative prompt", (v) => tryEdit(() => edit.setField(schedule, "negative_prompt", v))),
      h(doc, "div", { className: "ltx2-row" }, "Seeds past the list: ",
        select(["fixed", "increment"], schedule.seed_mode, (v) => tryEdit(() => edit.setField(schedule, "seed_mode", v)))));
  }

  function select(values, value, onchange) {
    const el = h(doc, "select", { onchange: (e) => onchange(e.target.value) }, values.map((v) => h(doc, "option", { value: v }, v)));
    el.value = value;
    return el;
  }

  function promptKeys() {
    const box = h(doc, "div", { className: "ltx2-prompt-keys" }, h(doc, "div", { className: "ltx2-section" }, "Prompt keyframes (each holds until the next)"));
    schedule.prompts.forEach((key, k) => {
      const place = edit.pointPlace(key);
      const position = committing(h(doc, "input", { type: "number", min: 0, step: place === "seconds" ? 0.01 : 1, value: key[place], style: "width:64px" }),
        (value) => tryEdit(() => {
          const v = Number(value);
          const next = structuredClone(schedule);
          next.prompts[k] = { [place]: place === "seconds" ? v : Math.round(v), text: key.text };
          return next;
        }));
      box.append(h(doc, "div", { className: "ltx2-row", dataset: { key: k } },
        select(PLACES, place, (v) => tryEdit(() => edit.setPromptKeyframePlace(schedule, plan, k, v))),
        position,
        committing(h(doc, "input", { type: "text", value: key.text, placeholder: "prompt from here on" }), (v) => tryEdit(() => edit.setPromptKeyframeText(schedule, k, v))),
        h(doc, "button", { title: "remove", onclick: () => tryEdit(() => edit.removePromptKeyframe(schedule, k)) }, "✕")));
    });
    box.append(h(doc, "button", {
      onclick: () => tryEdit(() => edit.addPromptKeyframe(schedule, plan, plan.chunks[Math.min(selected, plan.chunks.length - 1)].keep[0], "", "chunk")),
    }, "+ prompt keyframe at the selected chunk"));
    return box;
  }

  function loraSection() {
    const box = h(doc, "div", {}, h(doc, "div", { className: "ltx2-section" }, "LoRA scale ramps (scales per chunk in the table)"));
    schedule.loras.forEach((lora, k) => {
      box.append(h(doc, "div", { className: "ltx2-row", dataset: { lora: k } },
        h(doc, "span", { style: "flex:1" }, lora.name),
        select(["list", "keyframes"], lora.keyframes === null ? "list" : "keyframes", (v) => tryEdit(() => edit.setLoraForm(schedule, plan, k, v))),
        h(doc, "button", { title: "remove", onclick: () => tryEdit(() => edit.removeLora(schedule, k)) }, "✕")));
    });
    const name = h(doc, "input", { type: "text", placeholder: "LoRA file name" });
    box.append(h(doc, "div", { className: "ltx2-row" }, name, h(doc, "button", { onclick: () => tryEdit(() => edit.addLora(schedule, name.value.trim())) }, "+ LoRA")));
    return box;
  }

  function numberInput(value, step, onchange) {
    return committing(h(doc, "input", { type: "number", step, value }), (v) => v !== "" && onchange(Number(v)));
  }

  function chunkTable(resolved) {
    // fixed column widths: the prompt column takes what is left, so the table fits the node's width
    const columns = [["chunk", 36], ["kept", 66], ["seconds", 66], ["prompt", null], ["seed", 76], ["handoff", 52], ...schedule.loras.map((l) => [l.name, 52])];
    const head = h(doc, "tr", {}, columns.map(([t, width]) => h(doc, "th", { title: t, style: width ? `width:${width}px;overflow:hidden;text-overflow:ellipsis` : "" }, t)));
    const rows = plan.chunks.map((c) => {
      const p = resolved[c.index];
      const t0 = secondsAt(c.keep[0], plan.fps).toFixed(2);
      const t1 = secondsAt(c.keep[1], plan.fps).toFixed(2);
      return h(doc, "tr", { className: c.index === selected ? "ltx2-selected" : "", dataset: { chunk: c.index }, onclick: () => { if (selected !== c.index) { selected = c.index; render(); } } },
        h(doc, "td", {}, String(c.index)),
        h(doc, "td", {}, `[${c.keep[0]}, ${c.keep[1]})`),
        h(doc, "td", {}, `${t0}–${t1}`),
        h(doc, "td", { className: "ltx2-prompt-cell", title: p.prompt }, p.prompt),
        h(doc, "td", { className: "ltx2-seed" }, numberInput(p.seed, 1, (v) => tryEdit(() => edit.setChunkValue(schedule, "seed", c.index, Math.round(v))))),
        h(doc, "td", { className: "ltx2-handoff" }, numberInput(pick(schedule.handoff_strength, c.index), 0.05, (v) => tryEdit(() => edit.setChunkValue(schedule, "handoff_strength", c.index, v)))),
        schedule.loras.map((lora, k) => h(doc, "td", { className: "ltx2-lora-cell" },
          numberInput(+p.loras[lora.name].toFixed(4), 0.05, (v) => tryEdit(() => edit.setLoraScaleAt(schedule, plan, k, c.index, v))))));
    });
    return h(doc, "table", { className: "ltx2-table" }, head, rows);
  }

  function anchorList() {
    if (!schedule.anchors.length) return null;
    return h(doc, "div", {}, h(doc, "div", { className: "ltx2-section" }, "Anchor images"),
      schedule.anchors.map((a, k) => h(doc, "div", { className: "ltx2-row" },
        `${a.position} frame of chunk ${pointChunk(a, plan)} (${placeText(a)}) ← ${a.image} @ ${a.strength}`,
        h(doc, "button", { title: "remove", onclick: () => tryEdit(() => edit.removeAnchor(schedule, k)) }, "✕"))));
  }

  function warnings() {
    const list = scheduleWarnings(schedule, plan);
    return list.length ? h(doc, "div", {}, list.map((w) => h(doc, "div", { className: "ltx2-warning" }, `⚠ ${w}`))) : null;
  }

  /** The height the editor needs to show everything without scrolling (0 while it is not laid out). */
  function contentHeight() {
    // layout sizes (offsetTop/offsetHeight leave the canvas zoom out), from the first section's top to the last's end
    const [first, last] = [root.firstElementChild, root.lastElementChild];
    if (!first || !root.offsetHeight) return 0;
    return Math.ceil(last.offsetTop + last.offsetHeight - first.offsetTop + 2 * PAD);
  }

  load();
  return {
    element: root,
    load,
    refresh,
    destroy: () => root.replaceChildren(),
    state: () => ({ schedule, plan, linked: !!linked, error: loadError ?? notice ?? planError }),
    contentHeight,
  };
}
