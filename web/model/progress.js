// Live chain progress: folds `ltx2chain.progress` websocket payloads (a chain event's to_dict() plus node,
// prompt_id, eta_seconds, render_speed (output frames per wall-clock second) and, on chunk_done, an optional
// preview data URL) into what the panel shows. `frame_rate` on chain_start is the video's frame rate, not a speed.
// Pure module: no ComfyUI imports.

export const PROGRESS_EVENT = "ltx2chain.progress";

export function idleProgress() {
  return { status: "idle", promptId: null, chunk: null, chunks: null, step: null, steps: null, framesDone: 0, totalFrames: null, speed: null, eta: null, preview: null, previewChunk: null, message: null, resumed: false, chunkStates: [] };
}

/** Chunk states: "pending", "running", "done" or "resumed" (loaded from an earlier run), one per chunk. */
const withChunkState = (states, chunks, chunk, value) => {
  const out = Array.from({ length: Math.max(chunks ?? 0, states.length, chunk + 1) }, (_, i) => states[i] ?? "pending");
  out[chunk] = value;
  return out;
};

/** The panel state after event `detail` (the previous state is not changed). */
export function reduceProgress(state, detail) {
  const s = { ...state };
  if (detail.prompt_id !== undefined && detail.prompt_id !== s.promptId && detail.event !== "chain_start") {
    // an event of another run than the one shown: start over from what it says
    Object.assign(s, idleProgress(), { status: "running" });
  }
  s.promptId = detail.prompt_id ?? s.promptId;
  if ("eta_seconds" in detail) s.eta = detail.eta_seconds;
  if ("render_speed" in detail) s.speed = detail.render_speed;
  if (detail.chunks != null) s.chunks = detail.chunks;
  if (detail.total_frames != null) s.totalFrames = detail.total_frames;
  switch (detail.event) {
    case "chain_start":
      return {
        ...idleProgress(), status: "running", promptId: detail.prompt_id ?? null, chunks: detail.chunks, totalFrames: detail.total_frames,
        eta: detail.eta_seconds ?? null, chunkStates: Array(detail.chunks ?? 0).fill("pending"),
      };
    case "chunk_start":
      return { ...s, status: "running", chunk: detail.chunk, step: null, steps: null, resumed: !!detail.resumed, chunkStates: withChunkState(s.chunkStates, s.chunks, detail.chunk, "running") };
    case "denoise_step":
      return { ...s, status: "running", chunk: detail.chunk, step: detail.step, steps: detail.steps };
    case "stitching":
      return { ...s, status: "running", chunk: detail.chunk };
    case "chunk_done":
      return {
        ...s,
        status: "running",
        chunk: detail.chunk,
        framesDone: detail.frames_done ?? s.framesDone,
        chunkStates: withChunkState(s.chunkStates, s.chunks, detail.chunk, detail.resumed ? "resumed" : "done"),
        ...(detail.preview ? { preview: detail.preview, previewChunk: detail.chunk } : {}),
      };
    case "done":
      return { ...s, status: "done", eta: 0, framesDone: s.totalFrames ?? s.framesDone };
    case "error":
      return { ...s, status: detail.cancelled ? "cancelled" : "error", message: detail.message ?? null, chunk: detail.chunk ?? s.chunk, eta: null };
    default:
      return s;
  }
}

/** Seconds as "42 s", "3:07" or "1:02:03". */
export function formatDuration(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return "–";
  const t = Math.max(0, Math.round(seconds));
  if (t < 60) return `${t} s`;
  const [h, m, sec] = [Math.floor(t / 3600), Math.floor((t % 3600) / 60), t % 60];
  const pad = (x) => String(x).padStart(2, "0");
  return h ? `${h}:${pad(m)}:${pad(sec)}` : `${m}:${pad(sec)}`;
}

/** The panel's lines of text for `state`. */
export function progressLines(state) {
  const lines = [];
  const { status } = state;
  if (status === "idle") return ["Waiting for a run"];
  if (state.chunks != null) {
    const k = state.chunk === null ? 0 : state.chunk + 1;
    lines.push(`Chunk ${k} of ${state.chunks}${state.resumed ? " (resumed)" : ""}`);
  }
  const resumed = state.chunkStates.flatMap((c, i) => (c === "resumed" ? [i + 1] : []));
  if (resumed.length) lines.push(`Resumed (from the last run): chunk${resumed.length > 1 ? "s" : ""} ${resumed.join(", ")}`);
  if (state.steps) lines.push(`Step ${state.step} of ${state.steps}`);
  if (state.totalFrames) lines.push(`Frames ${state.framesDone} of ${state.totalFrames}`);
  lines.push(`Speed ${state.speed == null ? "–" : `${state.speed.toFixed(2)} frames/s`}`);
  if (status === "running") lines.push(`ETA ${formatDuration(state.eta)}`);
  if (status === "done") lines.push("Done");
  if (status === "cancelled") lines.push(`Cancelled${state.message ? `: ${state.message}` : ""}`);
  if (status === "error") lines.push(`Error${state.chunk != null ? ` in chunk ${state.chunk}` : ""}: ${state.message ?? "unknown error"}`);
  return lines;
}
