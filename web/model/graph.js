// Where an editor takes its plan from: the node itself when it has the plan inputs, else the first node with
// them downstream of its outputs (a Schedule node planned from the Chain Sampler it feeds, through any schedule
// nodes between). Works on plain callbacks, so it runs the same on a ComfyUI graph and in a test.
// Pure module: no ComfyUI imports.

/**
 * The first node (breadth-first, the node itself first) for which `accept(node)` is true, following
 * `next(node)` (the nodes its outputs feed); null when none is reachable. Each node is visited once.
 */
export function findPlanSource(start, next, accept) {
  const seen = new Set();
  const queue = [start];
  while (queue.length) {
    const node = queue.shift();
    if (node == null || seen.has(node)) continue;
    seen.add(node);
    if (accept(node)) return node;
    queue.push(...(next(node) ?? []));
  }
  return null;
}

/** What the editor says when the sampler renders as long as its connected media (media_length). */
export const MEDIA_NOTE =
  "the length follows the connected soundtrack or source video (media_length): the plan drawn here uses the " +
  "length inputs, the run uses the media's";

/**
 * The editor's note on where its plan comes from: `source` is null (defaults), `self`, or a label;
 * `followsMedia`: the planning node renders as long as its connected media.
 */
export function planNote(source, followsMedia = false) {
  if (source === null) return "planned with the default lengths: this node feeds no node with plan inputs";
  const where = source === "self" ? null : `planned from ${source}, which this schedule feeds`;
  return [where, followsMedia ? MEDIA_NOTE : null].filter(Boolean).join("; ") || null;
}

/** What the Chain Sampler's editor shows when a schedule is linked to its schedule_in. */
export const LINKED_NOTICE =
  "A schedule is linked to schedule_in: the linked schedule wins, and the schedule edited here is not used. " +
  "Edit the linked schedule nodes, or unlink schedule_in to edit here.";
