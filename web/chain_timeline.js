// ComfyUI wiring for the chunk timeline editor, the live chain progress panel and the nodes' faces (advanced
// widgets folded). Only hooks live here; the editor, the panel, the face and their models are plain modules under
// model/ and view/.
import { app } from "../../scripts/app.js";
import { api } from "../../scripts/api.js";
import { findPlanSource, LINKED_NOTICE, planNote } from "./model/graph.js";
import { PLAN_DEFAULTS } from "./model/plan.js";
import { PROGRESS_EVENT } from "./model/progress.js";
import { attachFace, hideWidget } from "./view/node_face.js";
import { createProgressPanel } from "./view/progress_panel.js";
import { createTimelineEditor } from "./view/timeline_editor.js";

const NODE_PREFIX = "LTX2Chain_";
const EDITOR_NODES = ["LTX2Chain_PlanPreview", "LTX2Chain_Schedule", "LTX2Chain_ChainSampler"];
const PROGRESS_NODES = ["LTX2Chain_ChainSampler"];
const PLAN_WIDGETS = [...Object.keys(PLAN_DEFAULTS), "max_chunks"];
const EDITOR_HEIGHT = { min: 260, max: 900 }; // px: the editor asks for its content's height within these

const widget = (node, name) => node.widgets?.find((w) => w.name === name);
const hasPlan = (node) => PLAN_WIDGETS.every((name) => name === "max_chunks" || widget(node, name));

/** The nodes `node`'s outputs feed. */
function feeds(node) {
  const graph = node.graph ?? app.graph;
  const links = (node.outputs ?? []).flatMap((output) => output.links ?? []);
  return links.map((id) => graph?.links?.get?.(id) ?? graph?.links?.[id]).filter(Boolean).map((link) => graph.getNodeById(link.target_id));
}

/** The height the frontend takes from a DOM widget's slot for its margins (above and below the element). */
const margins = (view) => 2 * (view?.margin ?? 10);

/**
 * Grows `node` to the size its widgets need, so nothing is drawn outside it. A new node's height, and a height
 * this function set (the user has not resized the node since), follow the content down again too; a height the
 * user chose or a workflow saved only grows.
 */
function fitNode(node) {
  const need = node.computeSize?.();
  if (!need || !node.size) return;
  const ours = node.ltx2FitHeight === node.size[1] || node.ltx2Fresh;
  node.ltx2Fresh = false;
  const height = ours ? need[1] : Math.max(node.size[1], need[1]);
  if (need[0] > node.size[0] || height !== node.size[1]) {
    node.setSize([Math.max(node.size[0], need[0]), height]);
    node.ltx2FitHeight = node.size[1];
    node.setDirtyCanvas?.(true, true);
  }
}

/** Fits `node` on the next frame, once its DOM widgets are laid out (several redraws in a frame: one fit). */
function fitSoon(node) {
  if (node.ltx2FitPending || typeof requestAnimationFrame !== "function") return;
  node.ltx2FitPending = true;
  requestAnimationFrame(() => {
    node.ltx2FitPending = false;
    fitNode(node);
  });
}

/** Fits `node` whenever `element` is laid out anew (mounted by the frontend, resized). */
function fitOnLayout(node, element) {
  if (typeof ResizeObserver !== "function") return;
  const observer = new ResizeObserver(() => fitSoon(node));
  observer.observe(element);
  node.ltx2Observers = [...(node.ltx2Observers ?? []), observer];
}

/** Redraws every editor: a plan input or a link changed, and editors plan from the nodes they feed. */
function refreshEditors(graph) {
  for (const node of graph?.nodes ?? []) node.ltx2Editor?.refresh();
}

/** The URL ComfyUI serves input-folder image `name` at ("sub/x.png" is x.png in subfolder sub). */
function inputImageUrl(name) {
  const cut = name.lastIndexOf("/");
  const query = new URLSearchParams({ filename: name.slice(cut + 1), type: "input", subfolder: cut < 0 ? "" : name.slice(0, cut) });
  return api.apiURL(`/view?${query}`);
}

/** The images in ComfyUI's input folder, as the Load Image node lists them (asked anew: uploads show up). */
async function inputImages() {
  const response = await api.fetchApi("/object_info/LoadImage");
  if (!response.ok) throw new Error(`${response.status} ${response.statusText}`);
  const spec = (await response.json())?.LoadImage?.input?.required?.image;
  // ComfyUI's two ways to write a combo: [[choices...], options] and ["COMBO", { options: [choices...] }]
  const choices = Array.isArray(spec?.[0]) ? spec[0] : spec?.[1]?.options;
  if (!Array.isArray(choices)) throw new Error("the Load Image node lists no images here");
  return choices.filter((c) => typeof c === "string");
}

/** Whether `node` renders as long as its connected media: media_length on and a soundtrack or source linked. */
function followsMedia(node) {
  const linked = (name) => node.inputs?.find((i) => i.name === name)?.link != null;
  return widget(node, "media_length")?.value === true && (linked("soundtrack") || linked("source_video"));
}

function attachEditor(node) {
  const store = widget(node, "schedule");
  if (!store || node.ltx2Editor) return;
  hideWidget(store);
  const source = () => findPlanSource(node, feeds, hasPlan);
  const editor = createTimelineEditor({
    readSchedule: () => store.value ?? "",
    writeSchedule: (text) => {
      store.value = text;
      node.setDirtyCanvas?.(true, true);
    },
    planInputs: () => {
      const from = source();
      return from ? Object.fromEntries(PLAN_WIDGETS.map((name) => [name, widget(from, name)?.value])) : {};
    },
    planNote: () => {
      const from = source();
      return planNote(from === node ? "self" : from && `${from.title ?? from.type} (#${from.id})`, from != null && followsMedia(from));
    },
    linked: () => (node.inputs?.find((i) => i.name === "schedule_in")?.link != null ? LINKED_NOTICE : null),
    imageUrl: inputImageUrl,
    listImages: inputImages,
    onRender: () => fitSoon(node),
  });
  // the editor asks for its content's height (up to EDITOR_HEIGHT.max; past that it scrolls) and takes no more,
  // so the progress panel sits right under it
  const height = () => Math.max(EDITOR_HEIGHT.min, editor.contentHeight() + margins(view));
  const view = node.addDOMWidget("schedule_editor", "ltx2chain_timeline", editor.element, {
    serialize: false,
    hideOnZoom: false,
    getMinHeight: () => Math.min(EDITOR_HEIGHT.max, height()),
    getMaxHeight: height,
  });
  node.ltx2Editor = editor;
  fitOnLayout(node, editor.element);
}

/** A setting of the frontend's, or undefined where the frontend has no such setting. */
const setting = (id) => app.ui?.settings?.getSettingValue?.(id);

/**
 * The node's face: advanced widgets folded behind a toggle on the classic canvas (the Nodes 2.0 renderer folds
 * them itself; the frontend's "always show advanced widgets" setting shows them all), unused lengths greyed.
 */
function attachNodeFace(node, nodeData) {
  const fold = setting("Comfy.VueNodes.Enabled") !== true && setting("Comfy.Node.AlwaysShowAdvancedWidgets") !== true;
  node.ltx2Face = attachFace(node, fold ? nodeData : null, {
    followsMedia,
    onToggle: () => {
      // the user folded or unfolded: the node takes its content's height, whichever way it changed
      node.setSize([node.size[0], node.computeSize()[1]]);
      node.ltx2FitHeight = node.size[1];
      fitSoon(node);
    },
  });
}

/** Every widget change redraws the editors (a plan input changed) and this node's face. */
function watchWidgets(node) {
  for (const w of node.widgets ?? []) {
    const callback = w.callback;
    w.callback = function () {
      const result = callback?.apply(this, arguments);
      if (PLAN_WIDGETS.includes(w.name)) refreshEditors(node.graph ?? app.graph);
      node.ltx2Face?.refresh();
      return result;
    };
  }
}

function attachProgress(node) {
  if (node.ltx2Progress) return;
  const panel = createProgressPanel({ onRender: () => fitSoon(node) });
  const height = () => panel.contentHeight() + margins(view);
  const view = node.addDOMWidget("chain_progress", "ltx2chain_progress", panel.element, {
    serialize: false,
    hideOnZoom: false,
    getMinHeight: height,
    getMaxHeight: height,
  });
  node.ltx2Progress = panel;
  fitOnLayout(node, panel.element);
}

/** The node a progress event names; inside subgraphs the id is a path "outer:inner". */
function nodeFor(id) {
  const [first, ...rest] = String(id).split(":");
  let node = app.graph?.getNodeById?.(first);
  for (const part of rest) node = node?.subgraph?.getNodeById?.(part);
  return node;
}

app.registerExtension({
  name: "ltx2chain.timeline",
  setup() {
    api.addEventListener(PROGRESS_EVENT, (event) => {
      const detail = event.detail ?? {};
      const panel = detail.node == null ? null : nodeFor(detail.node)?.ltx2Progress;
      if (!panel) return;
      panel.update(detail);
      app.graph?.setDirtyCanvas?.(true, false);
    });
  },
  async beforeRegisterNodeDef(nodeType, nodeData) {
    if (!nodeData.name?.startsWith(NODE_PREFIX)) return;
    const editor = EDITOR_NODES.includes(nodeData.name);
    const progress = PROGRESS_NODES.includes(nodeData.name);
    const { onNodeCreated, onConfigure, onConnectionsChange, onRemoved } = nodeType.prototype;
    nodeType.prototype.onNodeCreated = function () {
      const result = onNodeCreated?.apply(this, arguments);
      attachNodeFace(this, nodeData);
      if (editor) attachEditor(this);
      if (progress) attachProgress(this);
      watchWidgets(this);
      this.ltx2Fresh = true; // a new node takes its content's height at its first fit (a loaded one keeps its size)
      return result;
    };
    nodeType.prototype.onConfigure = function () {
      const result = onConfigure?.apply(this, arguments);
      this.ltx2Fresh = false;
      // the workflow's values and properties are on the node now: fold as it was saved, read the schedule
      // again; the nodes this one feeds exist once the whole graph is loaded, so plan again on the next frame
      this.ltx2Face?.apply();
      this.ltx2Editor?.load();
      if (typeof requestAnimationFrame === "function") requestAnimationFrame(() => this.ltx2Editor?.refresh());
      fitSoon(this);
      return result;
    };
    nodeType.prototype.onConnectionsChange = function () {
      const result = onConnectionsChange?.apply(this, arguments);
      refreshEditors(this.graph ?? app.graph);
      this.ltx2Face?.refresh();
      return result;
    };
    nodeType.prototype.onRemoved = function () {
      for (const observer of this.ltx2Observers ?? []) observer.disconnect();
      this.ltx2Editor?.destroy();
      this.ltx2Editor = null;
      this.ltx2Progress = null;
      this.ltx2Face = null;
      return onRemoved?.apply(this, arguments);
    };
  },
});
