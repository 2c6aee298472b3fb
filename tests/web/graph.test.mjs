// Where an editor takes its plan from, and what it says about it.
import assert from "node:assert/strict";
import { test } from "node:test";

import { findPlanSource, LINKED_NOTICE, MEDIA_NOTE, planNote } from "../../web/model/graph.js";

// Schedule (1) -> LoRA Ramp (2) -> Chain Sampler (3); Schedule (4) feeds nothing; a loop 5 <-> 6
const edges = { 1: [2], 2: [3], 3: [], 4: [], 5: [6], 6: [5] };
const planNodes = new Set([3]);
const find = (start) => findPlanSource(start, (n) => edges[n], (n) => planNodes.has(n));

test("a node with plan inputs plans from itself", () => {
  assert.equal(find(3), 3);
});

test("a schedule node plans from the sampler it feeds, through schedule nodes", () => {
  assert.equal(find(1), 3);
  assert.equal(find(2), 3);
});

test("no sampler downstream (or a loop): defaults", () => {
  assert.equal(find(4), null);
  assert.equal(find(5), null);
});

test("the editor says where its plan comes from", () => {
  assert.equal(planNote("self"), null);
  assert.match(planNote(null), /default lengths/);
  assert.match(planNote("Chain Sampler (#3)"), /planned from Chain Sampler \(#3\)/);
  assert.match(LINKED_NOTICE, /linked schedule wins/);
});

test("a sampler following its media says the run's length is the media's", () => {
  assert.equal(planNote("self", true), MEDIA_NOTE);
  assert.equal(planNote("Chain Sampler (#3)", true), `planned from Chain Sampler (#3), which this schedule feeds; ${MEDIA_NOTE}`);
  assert.equal(planNote("self", false), null);
});
