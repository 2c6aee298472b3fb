// Shows the Chain Plan Preview node's table on the node itself after it runs.
import { app } from "../../scripts/app.js";

const NODE_ID = "LTX2Chain_PlanPreview";

app.registerExtension({
  name: "ltx2chain.planPreview",
  async beforeRegisterNodeDef(nodeType, nodeData) {
    if (nodeData.name !== NODE_ID) return;
    const onExecuted = nodeType.prototype.onExecuted;
    nodeType.prototype.onExecuted = function (output) {
      onExecuted?.apply(this, arguments);
      const text = (output?.text ?? []).join("\n");
      if (!this.ltx2PlanView) {
        const pre = document.createElement("pre");
        pre.style.cssText = "margin:0;padding:4px;overflow:auto;font:11px monospace;white-space:pre;";
        this.addDOMWidget("plan_view", "ltx2chain_plan", pre, { serialize: false, hideOnZoom: false });
        this.ltx2PlanView = pre;
      }
      this.ltx2PlanView.textContent = text;
      this.setDirtyCanvas(true, true);
    };
  },
});
