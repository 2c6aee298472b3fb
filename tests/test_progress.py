from ltx2.chain.events import ChainFailed, ChainFinished, ChainStarted, ChunkFinished, ChunkStarted, DenoiseStep
from ltx2.chain.progress import ProgressLine, ProgressTracker


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_eta_and_fps_from_measured_steps():
    clock = Clock()
    track = ProgressTracker(clock)
    first = track(ChainStarted(chunks=3, total_frames=100, frame_rate=24.0))
    assert first["event"] == "chain_start" and first["eta_seconds"] is None and first["render_speed"] is None
    assert first["frame_rate"] == 24.0
    track(ChunkStarted(0, 3, False, "p"))
    for step in (1, 2):
        clock.now += 2.0  # 2 s per denoise step
        payload = track(DenoiseStep(0, 3, step, 4))
    # 2 steps left in chunk 0, 4 in each of chunks 1 and 2, no finish time measured yet
    assert payload["eta_seconds"] == 2.0 * (2 + 8)
    clock.now += 2.0
    track(DenoiseStep(0, 3, 3, 4))
    clock.now += 2.0
    track(DenoiseStep(0, 3, 4, 4))
    clock.now += 1.0  # decode and stitch take 1 s
    done = track(ChunkFinished(0, 3, False, 40, 100, 9.0))
    assert done["render_speed"] == 40 / 9.0
    assert done["eta_seconds"] == 2.0 * 8 + 1.0 * 2


def test_the_first_chunks_eta_counts_its_set_up_once_per_chunk_not_per_step():
    clock = Clock()
    track = ProgressTracker(clock)
    track(ChainStarted(chunks=4, total_frames=100, frame_rate=24.0))
    track(ChunkStarted(0, 4, False, "p"))
    clock.now += 11.0  # the prompt and the conditioning (10 s), then a 1 s step
    first = track(DenoiseStep(0, 4, 1, 8))
    assert first["eta_seconds"] == 11.0 * 31, "one interval measured: the only estimate there is"
    clock.now += 1.0
    second = track(DenoiseStep(0, 4, 2, 8))
    # 6 steps left in chunk 0 and 8 in each of 3 later chunks at 1 s, and 10 s of set-up for each later chunk
    assert second["eta_seconds"] == 1.0 * (6 + 24) + 10.0 * 3


def test_a_terminal_gets_one_line_rewritten_per_step_and_a_lasting_line_per_chunk():
    clock = Clock()
    line = ProgressLine(live=True, clock=clock)
    track = ProgressTracker(clock)
    out = []
    for event in (ChainStarted(2, 50, 24.0), ChunkStarted(0, 2, False, "p"), DenoiseStep(0, 2, 1, 8), DenoiseStep(0, 2, 2, 8)):
        clock.now += 2.0
        out.append(line(track(event)))
    assert out[:2] == [None, None]
    assert out[2] == "\r\x1b[Kchunk 1/2, step 1/8, ETA 30 s" and out[3].startswith("\r\x1b[Kchunk 1/2, step 2/8, ETA ")
    clock.now += 2.0
    done = line(track(ChunkFinished(0, 2, False, 25, 50, 18.0)))
    assert done.startswith("\r\x1b[Kchunk 1/2 done, ETA ") and done.endswith(" s\n")
    assert line(track(ChunkStarted(1, 2, True, "p"))) is None
    clock.now += 70.0
    assert line(track(DenoiseStep(1, 2, 1, 8))).startswith("\r\x1b[Kchunk 2/2, step 1/8, ETA ")
    assert line(track(ChainFailed(1, True, "cancelled"))) == "\n", "the interrupt note starts on a line of its own"
    assert line(track(ChainFinished(2, 50, 2, 200.0))) == "done in 200.0 s\n"


def test_a_log_gets_a_step_line_at_most_every_interval_and_every_chunk_line():
    clock = Clock()
    line = ProgressLine(live=False, interval=5.0, clock=clock)
    track = ProgressTracker(clock)
    track(ChainStarted(3, 75, 24.0))
    written = []
    for chunk in range(3):
        track(ChunkStarted(chunk, 3, False, "p"))
        for step in range(1, 9):
            clock.now += 1.0
            written.append(line(track(DenoiseStep(chunk, 3, step, 8))))
        written.append(line(track(ChunkFinished(chunk, 3, False, 25 * (chunk + 1), 75, 8.0))))
    lines = [w for w in written if w is not None]
    assert all(w.endswith("\n") and "\r" not in w and "\x1b" not in w for w in lines)
    steps = [w for w in lines if ", step " in w]
    assert steps[0] == "chunk 1/3, step 1/8, ETA 23 s\n" and len(steps) == 5, steps  # at 1, 6, 11, 16, 21 s of 24
    assert [w.split(",")[0] for w in lines if " done" in w] == ["chunk 1/3 done", "chunk 2/3 done", "chunk 3/3 done"]
