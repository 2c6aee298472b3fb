// A tiny DOM builder shared by the editor and the progress panel, and the editor's input helpers. No ComfyUI imports.

/** Element `tag` with attributes/properties `props` (on* keys are listeners, style a string) and children. */
export function h(doc, tag, props = {}, ...children) {
  const el = doc.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (key === "style") el.style.cssText = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key in el && key !== "list") el[key] = value;
    else el.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(typeof child === "string" || typeof child === "number" ? doc.createTextNode(String(child)) : child);
  }
  return el;
}

/** Adds a stylesheet to the document once, under `id`. */
export function ensureStyle(doc, id, css) {
  if (doc.getElementById(id)) return;
  const style = doc.createElement("style");
  style.id = id;
  style.textContent = css;
  doc.head.append(style);
}

/**
 * `el` (an input, textarea or select) commits its value with `commit(value)` on change and, with `enter`, on
 * Enter; Escape puts the saved value back. The saved value is kept as the element's defaultValue, so a
 * keyboard handler can tell an edit in progress (value !== defaultValue) from a committed one.
 */
export function committing(el, commit, { enter = true } = {}) {
  const saved = el.value;
  el.defaultValue = saved;
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

/** A <select> of `values` showing `value`; `onchange(value)` when the user picks another. */
export function select(doc, values, value, onchange, labels = values) {
  const el = h(doc, "select", { onchange: (e) => onchange(e.target.value) }, values.map((v, i) => h(doc, "option", { value: v }, String(labels[i]))));
  el.value = value;
  return el;
}
