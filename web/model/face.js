// A node's face on the canvas: which widgets it shows. The everyday inputs always; the inputs the node marks
// advanced behind one toggle, which says how many of them differ from their defaults; a length input that does
// not count (another one wins) is greyed out. Pure module: no ComfyUI imports.

/** The default of an input spec from ComfyUI's node definitions: [type, options] or [[choices], options]. */
export function specDefault(spec) {
  const [type, options] = Array.isArray(spec) ? spec : [spec, {}];
  if (options && "default" in options) return options.default;
  if (Array.isArray(type)) return type[0];
  if (type === "COMBO" && Array.isArray(options?.options)) return options.options[0];
  return undefined;
}

/** The advanced inputs of a node definition (`object_info` entry), with their defaults, in definition order. */
export function advancedInputs(nodeData) {
  const groups = [nodeData?.input?.required ?? {}, nodeData?.input?.optional ?? {}];
  const found = [];
  for (const group of groups) {
    for (const [name, spec] of Object.entries(group)) {
      const options = Array.isArray(spec) ? spec[1] : null;
      if (options?.advanced === true) found.push({ name, default: specDefault(spec) });
    }
  }
  return found;
}

const same = (a, b) => (typeof a === "number" && typeof b === "number" ? Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b)) : a === b);

/** The names of the advanced inputs whose value differs from the default (`values`: name -> value). */
export function changedInputs(inputs, values) {
  return inputs.filter((input) => input.default !== undefined && input.name in values && !same(values[input.name], input.default)).map((input) => input.name);
}

/** The toggle's label: open or shut, with the number of hidden settings and the changed ones by name. */
export function toggleLabel(open, inputs, changed) {
  if (open) return "▾ hide advanced settings";
  const what = changed.length ? `, changed: ${changed.join(", ")}` : "";
  return `▸ advanced settings (${inputs.length}${what})`;
}

/**
 * The length inputs that do not count, given the values: `seconds` above 0 wins over `total_frames`; a node that
 * renders as long as its connected media (`followsMedia`) uses neither.
 */
export function unusedLengths(values, followsMedia = false) {
  if (followsMedia) return ["total_frames", "seconds"].filter((name) => name in values);
  return values.seconds > 0 && "total_frames" in values ? ["total_frames"] : [];
}
