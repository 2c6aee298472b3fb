// A node's face on the classic canvas: its advanced widgets folded behind one toggle button (which says how many
// differ from their defaults), and a length widget that does not count greyed out. Works on LiteGraph widget
// objects only; no ComfyUI imports. Folded widgets stay serialised: saved workflows and API prompts keep every
// value in its place.
import { advancedInputs, changedInputs, toggleLabel, unusedLengths } from "../model/face.js";

const OPEN = "ltx2_advanced_open"; // node property: the toggle's state, saved with the workflow

/** Hides widget `w` on both renderers; it stays serialised (workflow and API prompt). */
export function hideWidget(w) {
  w.hidden = true;
  w.options = w.options ?? {};
  w.options.hidden = true;
  w.computeSize = () => [0, -4];
  w.computedHeight = 0;
}

/** Shows a widget :func:`hideWidget` hid. */
function showWidget(w) {
  w.hidden = false;
  if (w.options) w.options.hidden = false;
  delete w.computeSize;
}

const values = (node) => Object.fromEntries((node.widgets ?? []).map((w) => [w.name, w.value]));

/**
 * Folds `node`'s advanced widgets (the inputs `nodeData` marks advanced) behind a toggle under its widgets.
 * `followsMedia(node)`: the node renders as long as its connected media. `onToggle(node)`: the user opened or shut
 * the toggle. Returns `refresh()` (the toggle's label, the greyed lengths: call it when values or links change) and
 * `apply()` (shows or hides the advanced widgets as the node's saved state says, then refreshes).
 */
export function attachFace(node, nodeData, { followsMedia = () => false, onToggle = () => {} } = {}) {
  const widgets = node.widgets ?? [];
  const inputs = advancedInputs(nodeData).filter((input) => widgets.some((w) => w.name === input.name));
  const lengths = new Map();
  const refresh = () => {
    const now = values(node);
    if (toggle) toggle.label = toggleLabel(node.properties?.[OPEN] === true, inputs, changedInputs(inputs, now));
    const unused = unusedLengths(now, followsMedia(node));
    for (const w of widgets.filter((w) => w.name === "total_frames" || w.name === "seconds")) {
      if (!lengths.has(w)) lengths.set(w, w.label);
      const off = unused.includes(w.name);
      w.disabled = off;
      w.label = off ? `${w.name} (${now.seconds > 0 && !followsMedia(node) ? "seconds wins" : "media length"})` : lengths.get(w);
    }
    node.setDirtyCanvas?.(true, false);
  };
  let toggle = null;
  if (inputs.length) {
    const apply = () => {
      const open = node.properties?.[OPEN] === true;
      for (const w of widgets.filter((w) => inputs.some((input) => input.name === w.name))) (open ? showWidget : hideWidget)(w);
      refresh();
    };
    toggle = node.addWidget("button", "ltx2_advanced", null, () => {
      node.properties = { ...(node.properties ?? {}), [OPEN]: node.properties?.[OPEN] !== true };
      apply();
      onToggle(node);
    });
    toggle.serialize = false;
    toggle.options = { ...(toggle.options ?? {}), serialize: false };
    // last, under the everyday widgets (opened, the advanced ones show in their places above it); not serialised,
    // so saved values keep their order
    apply();
    return { refresh, apply };
  }
  return { refresh, apply: refresh };
}
