// The chunk timeline editor: a seconds ruler over the plan's chunks and their overlaps, the prompt keyframes
// (drag them along the ruler), anchors with thumbnails (add them from ComfyUI's input folder, remove them),
// and a per-chunk table of prompts, seeds, guidance and LoRA scales. Every edit can be undone (the Undo
// button, Ctrl+Z in the editor). It reads and writes the schedule JSON through the callbacks it is given, so
// it runs the same on a ComfyUI node and in a test page.

import { fpsValue, planFromWidgets, secondsAt } from "../model/plan.js";
import { defaultSchedule, parseSchedule, pointFrame, resolveAll, scheduleToJSON, scheduleToObject, scheduleWarnings, validateSchedule } from "../model/schedule.js";
import * as edit from "../model/edit.js";
import { ANCHOR_CSS, closedPicker, drawAnchors } from "./anchor_picker.js";
import { drawChunkTable, TABLE_CSS } from "./chunk_table.js";
import { committing, ensureStyle, h, select } from "./dom.js";
import { drawRuler, drawTimeline, frameAt, TIMELINE_CSS } from "./timeline_strip.js";

const CSS = `
.ltx2-editor{font:11px/1.35 sans-serif;color:var(--input-text,#ddd);display:flex;flex-direction:column;gap:6px;padding:4px;box-sizing:border-box;overflow:hidden auto;height:100%;position:relative}
.ltx2-editor:focus{outline:none}
.ltx2-editor > *{flex:none}
.ltx2-editor textarea,.ltx2-editor input,.ltx2-editor select{font:11px sans-serif;background:var(--comfy-input-bg,#222);color:inherit;border:1px solid #555;border-radius:3px;box-sizing:border-box}
.ltx2-editor textarea{width:100%;resize:vertical;min-height:30px}
.ltx2-editor button{font:11px sans-serif;background:#333;color:inherit;border:1px solid #666;border-radius:3px;cursor:pointer;padding:1px 6px}
.ltx2-editor .ltx2-undo{font:11px sans-serif;background:#333;color:inherit;border:1px solid #666;border-radius:3px;cursor:pointer;padding:1px 6px;flex:none}
.ltx2-editor .ltx2-undo:focus{outline:none;border-color:#999}
.ltx2-editor .ltx2-undo.ltx2-off{opacity:.45;cursor:default}
.ltx2-head{display:flex;gap:6px;align-items:flex-start}
.ltx2-summary{opacity:.85;flex:1;min-width:0}
.ltx2-linked{color:#fc6;border:1px solid #a83;border-radius:3px;padding:3px}
.ltx2-error{color:#f77;white-space:pre-wrap}
.ltx2-warning{color:#fc6}
.ltx2-row{display:flex;gap:4px;align-items:center}
.ltx2-row > input[type=text]{flex:1;min-width:0}
.ltx2-section{font-weight:bold;opacity:.8;margin-top:2px}
${TIMELINE_CSS}${TABLE_CSS}${ANCHOR_CSS}`;

const PLACES = ["chunk", "seconds", "frame"];

const PAD = 4; // px of padding around the editor's sections (.ltx2-editor)
const UNDO_LIMIT = 100; // edits kept for undo
const RULER_WIDTH = 600; // px: the ruler's width before the editor is laid out

/**
 * options: { document, readSchedule(): string, writeSchedule(text), planInputs(): {total_frames, seconds,
 * fps, clip_frames, tail_frames}, planNote(): string | null (where the plan comes from), linked(): string |
 * null (a notice: the schedule edited here is not used; the editor is then read-only), imageUrl(name): string
 * | null, listImages(): Promise<string[]> (the input folder's images, for anchors), onRender() (after each
 * redraw) }.
 * Returns { element, load(), refresh(), destroy(), state(), contentHeight(), undo() }.
 */
export function createTimelineEditor(options) {
  const doc = options.document ?? globalThis.document;
  ensureStyle(doc, "ltx2chain-editor-style", CSS);
  // focusable (tabindex -1): a click on the editor or an edited cell redrawn away leaves the focus on the Undo
  // button (an input: see header()), so Ctrl+Z reaches the editor
  const root = h(doc, "div", { className: "ltx2-editor", tabIndex: -1 });
  const keepFocus = () => root.querySelector(".ltx2-undo")?.focus({ preventScroll: true });
  root.addEventListener("focus", keepFocus);
  // keep the canvas from treating clicks, drags, wheel turns and keys inside the editor as its own
  for (const type of ["pointerdown", "wheel", "keydown"]) root.addEventListener(type, (e) => e.stopPropagation());
  root.addEventListener("keydown", onKey);

  let schedule = defaultSchedule();
  let loadError = null; // the stored JSON is not a valid schedule: show why, edit nothing
  let notice = null; // an edit that was refused
  let plan = null;
  let planError = null;
  let selected = 0;
  let dragging = null; // { k, frame } while a prompt keyframe is dragged
  let linked = null; // the notice shown while the node's schedule is not the one used
  let history = []; // the schedules before each edit, for undo
  let more = false; // the table shows every per-chunk column
  const picker = closedPicker();

  function computePlan() {
    try {
      plan = planFromWidgets(options.planInputs?.() ?? {});
      planError = null;
    } catch (e) {
      plan = null;
      planError = e.message;
    }
  }

  /** Re-reads the schedule JSON (workflow load) and redraws; what was there before cannot be undone to. */
  function load() {
    try {
      schedule = parseSchedule(options.readSchedule?.() ?? "");
      loadError = null;
    } catch (e) {
      loadError = e.message;
    }
    notice = null;
    history = [];
    refresh();
  }

  /** Recomputes the plan from the node's inputs and redraws. */
  function refresh() {
    linked = options.linked?.() ?? null;
    computePlan();
    render();
  }

  function save(next) {
    schedule = next;
    loadError = null;
    notice = null;
    options.writeSchedule?.(scheduleToJSON(schedule));
    render();
  }

  function commit(next) {
    const problems = validateSchedule(scheduleToObject(next));
    if (problems.length) {
      notice = problems.map(([where, what]) => `${where}: ${what}`).join("\n");
      render();
      return;
    }
    if (!loadError && scheduleToJSON(next) === scheduleToJSON(schedule)) return render();
    if (!loadError) history = [...history.slice(1 - UNDO_LIMIT), schedule];
    save(next);
  }

  /** Puts back the schedule from before the last edit; false when there is none. */
  function undo() {
    if (!history.length || linked) return false;
    const previous = history[history.length - 1];
    history = history.slice(0, -1);
    save(previous);
    return true;
  }

  const tryEdit = (fn) => {
    try {
      commit(fn());
    } catch (e) {
      notice = e.message;
      render();
    }
  };

  function onKey(e) {
    const t = e.target;
    // Escape left the cell (its edit cancelled): the focus stays in the editor for its Ctrl+Z
    if (e.key === "Escape" && !root.contains(doc.activeElement)) return root.focus({ preventScroll: true });
    if (!(e.ctrlKey || e.metaKey) || e.shiftKey || e.altKey || e.key.toLowerCase() !== "z") return;
    // inside a cell being typed in, Ctrl+Z is the cell's own undo; a committed cell's is the editor's
    if ((t.tagName === "INPUT" || t.tagName === "TEXTAREA") && t.value !== t.defaultValue) return;
    e.preventDefault();
    undo();
  }

  /** Selects chunk `index`: marks it on the timeline and in the table without redrawing (a focused cell stays). */
  function selectChunk(index) {
    selected = index;
    for (const el of root.querySelectorAll(".ltx2-chunk[data-index], .ltx2-table tr[data-chunk]")) {
      el.classList.toggle("ltx2-selected", Number(el.dataset.index ?? el.dataset.chunk) === index);
    }
    const choice = root.querySelector(".ltx2-anchor-chunk");
    if (choice) choice.value = String(index);
  }

  // --- drawing -------------------------------------------------------------------------------------

  function render() {
    const focused = root.contains(doc.activeElement);
    draw();
    // the focused cell was redrawn away: keep the focus in the editor, so its keys (Ctrl+Z) still reach it
    if (focused && !root.contains(doc.activeElement)) root.focus({ preventScroll: true });
    options.onRender?.();
  }

  function draw() {
    root.replaceChildren();
    root.append(header());
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
    const table = drawChunkTable({ doc, plan, schedule, resolved, selected, more, select: selectChunk, tryEdit, toggleMore: () => { more = !more; render(); } });
    const anchors = drawAnchors({ doc, plan, schedule, selected: () => selected, picker, imageUrl: options.imageUrl, listImages, select: selectChunk, tryEdit, render });
    root.append(...[timeline(), globals(), promptKeys(), loraSection(), ...table, anchors, warnings()].filter(Boolean));
  }

  const listImages = () => (options.listImages ? options.listImages() : Promise.reject(new Error("no image list here")));

  function header() {
    if (linked || loadError) return h(doc, "div", { className: "ltx2-head" }, summary());
    // an <input type=button>: while it holds the focus, ComfyUI leaves Ctrl+Z to the editor (it undoes the
    // whole graph when the focus is on anything but an input)
    const undoButton = h(doc, "input", {
      type: "button", className: `ltx2-undo${history.length ? "" : " ltx2-off"}`, value: `↶ Undo${history.length ? ` (${history.length})` : ""}`,
      title: history.length ? "Undo the last edit (Ctrl+Z in the editor)" : "Nothing to undo", onclick: () => undo(),
    });
    return h(doc, "div", { className: "ltx2-head" }, summary(), undoButton);
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

  /** The timeline box's width in px (the editor's width less its padding and the box's border). */
  const timelineWidth = () => (root.clientWidth ? root.clientWidth - 2 * PAD - 2 : RULER_WIDTH);

  function timeline() {
    return drawTimeline({
      doc, plan, schedule, selected, linked: !!linked, width: timelineWidth(), dragging, imageUrl: options.imageUrl,
      select: selectChunk, tryEdit, startDrag,
    });
  }

  /** Redraws only the ruler when the editor's width changed (its labels are spaced for the width). */
  function fitRuler() {
    const ruler = root.querySelector(".ltx2-ruler");
    if (!ruler || !plan || Math.abs(Number(ruler.dataset.width) - timelineWidth()) < 8) return;
    ruler.replaceWith(drawRuler({ doc, plan, schedule: linked ? null : schedule, drag: dragging }, timelineWidth()));
  }
  const resizes = typeof ResizeObserver === "function" ? new ResizeObserver(fitRuler) : null;
  resizes?.observe(root);

  function startDrag(e, k) {
    e.preventDefault(); // the marker is redrawn while it moves, so follow the pointer on the document
    dragging = { k, frame: pointFrame(schedule.prompts[k], plan) };
    const move = (ev) => {
      // the timeline box is drawn anew on each move: measure the one on the page now
      dragging.frame = Math.min(Math.max(0, frameAt(ev, root.querySelector(".ltx2-timeline"), plan)), plan.total_frames - 1);
      render();
    };
    const up = () => {
      doc.removeEventListener("pointermove", move);
      doc.removeEventListener("pointerup", up);
      const frame = dragging.frame;
      dragging = null;
      tryEdit(() => edit.movePromptKeyframe(schedule, plan, k, frame));
    };
    doc.addEventListener("pointermove", move);
    doc.addEventListener("pointerup", up);
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
        select(doc, ["fixed", "increment"], schedule.seed_mode, (v) => tryEdit(() => edit.setField(schedule, "seed_mode", v)))));
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
        select(doc, PLACES, place, (v) => tryEdit(() => edit.setPromptKeyframePlace(schedule, plan, k, v))),
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
        select(doc, ["list", "keyframes"], lora.keyframes === null ? "list" : "keyframes", (v) => tryEdit(() => edit.setLoraForm(schedule, plan, k, v))),
        h(doc, "button", { title: "remove", onclick: () => tryEdit(() => edit.removeLora(schedule, k)) }, "✕")));
    });
    const name = h(doc, "input", { type: "text", placeholder: "LoRA file name" });
    box.append(h(doc, "div", { className: "ltx2-row" }, name, h(doc, "button", { onclick: () => tryEdit(() => edit.addLora(schedule, name.value.trim())) }, "+ LoRA")));
    return box;
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
    destroy: () => {
      resizes?.disconnect();
      root.replaceChildren();
    },
    state: () => ({ schedule, plan, linked: !!linked, error: loadError ?? notice ?? planError, undoable: history.length }),
    contentHeight,
    undo,
  };
}
