// ComfyUI wiring for the chunk timeline editor and the live chain progress panel. Only hooks live here;
// the editor, the panel and their models are plain modules under model/ and view/.
import { app } from "../../scripts/app.js";
import { api } from "../../scripts/api.js";
import { PLAN_DEFAULTS } from "./model/plan.js";
import { PROGRESS_EVENT } from "./model/progress.js";
import { createProgressPanel } from "./view/progress_panel.js";
import { createTimelineEditor } from "./view/timeline_editor.js";

const EDITOR_NODES = ["LTX2Chain_PlanPreview", "LTX2Chain_Schedule", "LTX2Chain_ChainSampler"];
const PROGRESS_NODES = ["LTX2Chain_ChainSampler"];
const PLAN_WIDGETS = [...Object.keys(PLAN_DEFAULTS), "max_chunks"];

const widget = (node, name) => node.widgets?.find((w) => w.name === name);

/** Hides the schedule STRING widget on both renderers; it stays serialised (workflow and API prompt). */
function hideWidget(w) {
  w.hidden = true;
  w.options = w.options ?? {};
  w.options.hidden = true;
  w.computeSize = () => [0, -4];
  w.computedHeight = 0;
}

function attachEditor(node) {
  const store = widget(node, "schedule");
  if (!store || node.ltx2Editor) return;
  hideWidget(store);
  const editor = createTimelineEditor({
    readSchedule: () => store.value ?? "",
    writeSchedule: (text) => {
      store.value = text;
      node.setDirtyCanvas?.(true, true);
    },
    planInputs: () => Object.fromEntries(PLAN_WIDGETS.map((name) => [name, widget(node, name)?.value])),
    imageUrl: (name) => api.apiURL(`/view?filename=${encodeURIComponent(name)}&type=input`),
  });
  node.addDOMWidget("schedule_editor", "ltx2chain_timeline", editor.element, {
    serialize: false,
    hideOnZoom: false,
    getMinHeight: () => 260,
  });
  node.ltx2Editor = editor;
  // redraw the timeline when a plan input changes
  for (const name of PLAN_WIDGETS) {
    const w = widget(node, name);
    if (!w) continue;
    const callback = w.callback;
    w.callback = function () {
      const result = callback?.apply(this, arguments);
      editor.refresh();
      return result;
    };
  }
}

function attachProgress(node) {
  if (node.ltx2Progress) return;
  const panel = createProgressPanel();
  node.addDOMWidget("chain_progress", "ltx2chain_progress", panel.element, { serialize: false, hideOnZoom: false, getMinHeight: () => 110 });
  node.ltx2Progress = panel;
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
    const editor = EDITOR_NODES.includes(nodeData.name);
    const progress = PROGRESS_NODES.includes(nodeData.name);
    if (!editor && !progress) return;
    const { onNodeCreated, onConfigure, onRemoved } = nodeType.prototype;
    nodeType.prototype.onNodeCreated = function () {
      const result = onNodeCreated?.apply(this, arguments);
      if (editor) attachEditor(this);
      if (progress) attachProgress(this);
      return result;
    };
    nodeType.prototype.onConfigure = function () {
      const result = onConfigure?.apply(this, arguments);
      // the workflow's values are in the widgets now: read the schedule again
      this.ltx2Editor?.load();
      return result;
    };
    nodeType.prototype.onRemoved = function () {
      this.ltx2Editor?.destroy();
      this.ltx2Editor = null;
      this.ltx2Progress = null;
      return onRemoved?.apply(this, arguments);
    };
  },
});
