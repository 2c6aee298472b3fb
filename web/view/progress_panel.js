// The live chain progress panel: chunk k of N, step i of n, frames per second, ETA, a strip of the chunks
// (rendered, resumed from an earlier run, running), the last finished chunk's preview, errors and cancel. Fed with `ltx2chain.progress` payloads; no ComfyUI imports.

import { idleProgress, progressLines, reduceProgress } from "../model/progress.js";
import { ensureStyle, h } from "./dom.js";

const CSS = `
.ltx2-progress{font:11px/1.4 sans-serif;color:var(--input-text,#ddd);padding:4px;box-sizing:border-box;display:flex;gap:6px;height:100%;overflow:hidden}
.ltx2-progress .ltx2-lines{flex:1;min-width:0}
.ltx2-progress .ltx2-bar{height:5px;background:#333;border-radius:2px;margin:3px 0;overflow:hidden}
.ltx2-progress .ltx2-bar > div{height:100%;background:#4a9d5b}
.ltx2-progress.ltx2-error .ltx2-bar > div{background:#c44}
.ltx2-progress .ltx2-problem{color:#f77;white-space:pre-wrap}
.ltx2-progress .ltx2-chunks{display:flex;gap:2px;margin:3px 0}
.ltx2-progress .ltx2-chunks > div{flex:1;height:8px;border-radius:2px;background:#555;min-width:2px}
.ltx2-progress .ltx2-chunks > .ltx2-running{background:#4a7dbd}
.ltx2-progress .ltx2-chunks > .ltx2-done{background:#4a9d5b}
.ltx2-progress .ltx2-chunks > .ltx2-resumed{background:repeating-linear-gradient(45deg,#4a9d5b 0 3px,#8c6 3px 6px)}
.ltx2-progress figure{margin:0;max-width:45%;display:flex;flex-direction:column;align-items:center;justify-content:center}
.ltx2-progress figure img{max-width:100%;max-height:86px;object-fit:contain}
.ltx2-progress figcaption{font-size:10px;opacity:.8}
`;

/** A panel tall enough for a run's lines (chunk, resumed chunks, step, frames, speed, ETA or the outcome), the bar and the chunk strip. */
export const PANEL_HEIGHT = 128;

/** onRender() is called after each redraw. Returns { element, update(detail), reset(), state(), contentHeight() }. */
export function createProgressPanel({ document: doc = globalThis.document, onRender } = {}) {
  ensureStyle(doc, "ltx2chain-progress-style", CSS);
  const root = h(doc, "div", { className: "ltx2-progress" });
  let state = idleProgress();

  function render() {
    const problem = state.status === "error" || state.status === "cancelled";
    root.className = `ltx2-progress${problem ? " ltx2-error" : ""}`;
    const lines = progressLines(state);
    const done = state.totalFrames ? state.framesDone / state.totalFrames : 0;
    const parts = [
      h(doc, "div", { className: "ltx2-lines" },
        h(doc, "div", { className: "ltx2-bar" }, h(doc, "div", { style: `width:${(100 * done).toFixed(1)}%` })),
        state.chunkStates.length ? chunkStrip() : null,
        lines.map((line, i) => h(doc, "div", { className: problem && i === lines.length - 1 ? "ltx2-problem" : "" }, line))),
    ];
    if (state.preview) {
      parts.push(h(doc, "figure", { className: "ltx2-preview" },
        h(doc, "img", { src: state.preview, alt: `chunk ${state.previewChunk + 1}` }),
        h(doc, "figcaption", {}, `chunk ${state.previewChunk + 1} of ${state.chunks ?? "?"}, last finished`)));
    }
    root.replaceChildren(...parts);
    onRender?.();
  }

  function chunkStrip() {
    const titles = { pending: "to render", running: "rendering", done: "rendered", resumed: "resumed: loaded from the last run" };
    return h(doc, "div", { className: "ltx2-chunks" },
      state.chunkStates.map((c, i) => h(doc, "div", { className: `ltx2-${c}`, title: `chunk ${i + 1}: ${titles[c]}`, dataset: { state: c } })));
  }

  render();
  return {
    element: root,
    update(detail) {
      state = reduceProgress(state, detail);
      render();
    },
    reset() {
      state = idleProgress();
      render();
    },
    state: () => state,
    /** The height that shows every line (an error may wrap): at least PANEL_HEIGHT. */
    contentHeight: () => Math.max(PANEL_HEIGHT, Math.ceil((root.firstChild?.offsetHeight ?? 0) + 8)),
  };
}
