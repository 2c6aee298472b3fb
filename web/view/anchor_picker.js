// The editor's anchor section: each anchor with its thumbnail, its strength and a remove button, and "add an anchor": a
// chunk, its first or last frame, and a picker of the images in ComfyUI's input folder (thumbnails; a click
// pins the image). Drawn inside the editor, so nothing spills out of the node. No ComfyUI imports.

import * as edit from "../model/edit.js";
import { pointChunk } from "../model/schedule.js";
import { committing, h, select } from "./dom.js";
import { anchorFrame, placeText } from "./timeline_strip.js";

export const ANCHOR_CSS = `
.ltx2-anchor-row img,.ltx2-anchor-row .ltx2-thumb-missing{width:28px;height:28px;object-fit:cover;border:1px solid #666;flex:none;background:#444;box-sizing:border-box}
.ltx2-thumb-missing{display:flex;align-items:center;justify-content:center;color:#aaa}
.ltx2-anchor-row span{flex:1;min-width:0;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.ltx2-anchor-row input.ltx2-anchor-strength{width:52px;flex:none}
.ltx2-picker{display:grid;grid-template-columns:repeat(auto-fill,minmax(72px,1fr));gap:4px;max-height:172px;overflow:auto;border:1px solid #444;border-radius:3px;padding:4px}
.ltx2-picker button{display:flex;flex-direction:column;align-items:center;gap:2px;padding:2px;min-width:0}
.ltx2-picker img{width:64px;height:48px;object-fit:cover;background:#444}
.ltx2-picker span{max-width:100%;overflow:hidden;text-overflow:ellipsis;white-space:nowrap;font-size:10px}
`;

/** The thumbnail of an image ComfyUI cannot show (not in the input folder). */
const missing = (doc) => h(doc, "div", { className: "ltx2-thumb-missing", title: "not found in ComfyUI's input folder" }, "?");

/** The picker's state, kept by the editor across redraws. */
export const closedPicker = () => ({ open: false, position: "first", images: null, error: null });

/**
 * ctx: { doc, plan, schedule, selected(): the selected chunk, picker (closedPicker()), imageUrl(name),
 * listImages(): Promise<string[]>, select(index), tryEdit(fn), render() }.
 */
export function drawAnchors(ctx) {
  const { doc, plan, schedule, picker } = ctx;
  const box = h(doc, "div", { className: "ltx2-anchors" }, h(doc, "div", { className: "ltx2-section" }, "Anchor images (pin a chunk's first or last frame)"));
  schedule.anchors.forEach((a, k) => {
    const url = ctx.imageUrl?.(a.image);
    const frame = anchorFrame(plan, a);
    box.append(h(doc, "div", { className: "ltx2-row ltx2-anchor-row", dataset: { anchor: k } },
      url ? h(doc, "img", { src: url, alt: "", onerror: (e) => e.target.replaceWith(missing(doc)) }) : missing(doc),
      h(doc, "span", { title: a.image }, `${a.image}: ${a.position} frame of chunk ${pointChunk(a, plan)} (${placeText(a)}${frame === null ? ", past the end" : `, frame ${frame}`}), strength`),
      committing(h(doc, "input", { type: "number", min: 0, max: 1, step: 0.05, value: String(a.strength), className: "ltx2-anchor-strength", title: "how firmly the frame holds the image: 1 = exactly, lower lets it move (Enter saves, Escape cancels)" }),
        (v) => ctx.tryEdit(() => edit.setAnchorStrength(schedule, k, v.trim() === "" ? NaN : Number(v)))),
      h(doc, "button", { title: "remove this anchor", className: "ltx2-remove-anchor", onclick: () => ctx.tryEdit(() => edit.removeAnchor(schedule, k)) }, "✕")));
  });

  const chunk = () => Math.min(ctx.selected(), plan.chunks.length - 1);
  const toggle = () => {
    picker.open = !picker.open;
    if (picker.open) load(ctx);
    ctx.render();
  };
  box.append(h(doc, "div", { className: "ltx2-row" }, "+ anchor on chunk ",
    Object.assign(select(doc, plan.chunks.map((c) => String(c.index)), String(chunk()), (v) => ctx.select(Number(v))), { className: "ltx2-anchor-chunk" }),
    select(doc, ["first", "last"], picker.position, (v) => { picker.position = v; }, ["first frame", "last frame"]),
    h(doc, "button", { className: "ltx2-pick-image", onclick: toggle }, picker.open ? "close the picker" : "pick an image…")));
  if (!picker.open) return box;
  if (picker.error) box.append(h(doc, "div", { className: "ltx2-error" }, picker.error));
  else if (!picker.images) box.append(h(doc, "div", {}, "Listing the input folder…"));
  else if (!picker.images.length) box.append(h(doc, "div", {}, "No images in ComfyUI's input folder: upload one with a Load Image node."));
  else {
    box.append(h(doc, "div", { className: "ltx2-picker" }, picker.images.map((name) => h(doc, "button", {
      title: `pin ${name} to the chosen frame`,
      dataset: { image: name },
      onclick: () => {
        picker.open = false;
        ctx.tryEdit(() => edit.addAnchor(schedule, plan, chunk(), picker.position, name));
      },
    }, h(doc, "img", { src: ctx.imageUrl?.(name) ?? "", alt: "", loading: "lazy" }), h(doc, "span", {}, name)))));
  }
  return box;
}

/** Lists the input folder's images into the picker (each time it opens: uploads since show up). */
function load(ctx) {
  const { picker } = ctx;
  picker.images = null;
  picker.error = null;
  Promise.resolve()
    .then(() => ctx.listImages())
    .then((images) => { picker.images = images; })
    .catch((e) => { picker.error = `The input folder cannot be listed: ${e.message ?? e}`; })
    .finally(() => picker.open && ctx.render());
}
