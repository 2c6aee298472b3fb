// The node's face: advanced inputs found in a node definition, the toggle's label, the length inputs that do not count.
import assert from "node:assert/strict";
import { test } from "node:test";

import { advancedInputs, changedInputs, specDefault, toggleLabel, unusedLengths } from "../../web/model/face.js";

// the shapes ComfyUI's /object_info uses: [type, options], [[choices], options], ["COMBO", {options}]
const definition = {
  input: {
    required: {
      total_frames: ["INT", { default: 481 }],
      handoff: [["reencode", "latent"], { default: "reencode", advanced: true }],
      drift: ["FLOAT", { default: 0, advanced: true }],
      width: ["INT", { default: 768 }],
    },
    optional: {
      steps: ["INT", { default: 0, advanced: true }],
      sampler: ["COMBO", { options: ["auto", "euler"], advanced: true }],
      guidance: [["auto", "off"], { advanced: true }],
      soundtrack: ["AUDIO", { advanced: false }],
    },
  },
};

test("defaults come from each spec shape", () => {
  assert.equal(specDefault(["INT", { default: 3 }]), 3);
  assert.equal(specDefault([["a", "b"], {}]), "a");
  assert.equal(specDefault(["COMBO", { options: ["x", "y"] }]), "x");
  assert.equal(specDefault(["AUDIO", {}]), undefined);
  assert.equal(specDefault(["BOOLEAN", { default: false }]), false);
});

test("advanced inputs are the ones marked advanced, required first, in definition order", () => {
  assert.deepEqual(advancedInputs(definition), [
    { name: "handoff", default: "reencode" },
    { name: "drift", default: 0 },
    { name: "steps", default: 0 },
    { name: "sampler", default: "auto" },
    { name: "guidance", default: "auto" },
  ]);
  assert.deepEqual(advancedInputs({ input: { required: { a: ["INT", {}] } } }), []);
  assert.deepEqual(advancedInputs(null), []);
});

test("changed inputs differ from their defaults; float rounding is no change", () => {
  const inputs = advancedInputs(definition);
  assert.deepEqual(changedInputs(inputs, { handoff: "reencode", drift: 0.1 + 0.2 - 0.3, steps: 30, sampler: "auto", guidance: "off" }), ["steps", "guidance"]);
  assert.deepEqual(changedInputs(inputs, { drift: 0.05 }), ["drift"]);
  assert.deepEqual(changedInputs(inputs, {}), []);
});

test("the toggle says how many settings it hides and which differ", () => {
  const inputs = advancedInputs(definition);
  assert.equal(toggleLabel(false, inputs, []), "▸ advanced settings (5)");
  assert.equal(toggleLabel(false, inputs, ["steps", "guidance"]), "▸ advanced settings (5, changed: steps, guidance)");
  assert.equal(toggleLabel(true, inputs, ["steps"]), "▾ hide advanced settings");
});

test("seconds above 0 wins over total_frames; media wins over both", () => {
  assert.deepEqual(unusedLengths({ total_frames: 481, seconds: 0 }), []);
  assert.deepEqual(unusedLengths({ total_frames: 481, seconds: 60 }), ["total_frames"]);
  assert.deepEqual(unusedLengths({ total_frames: 481, seconds: 60 }, true), ["total_frames", "seconds"]);
  assert.deepEqual(unusedLengths({ steps: 8 }), []);
});
