from ltx2.chain.events import ChainStarted, ChunkFinished, ChunkStarted, DenoiseStep
from ltx2.chain.progress import ProgressTracker


class Clock:
    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


def test_eta_and_fps_from_measured_steps():
    clock = Clock()
    track = ProgressTracker(clock)
    first = track(ChainStarted(chunks=3, total_frames=100, frame_rate=24.0))
    assert first["event"] == "chain_start" and first["eta_seconds"] is None and first["fps"] is None
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
    assert done["fps"] == 40 / 9.0
    assert done["eta_seconds"] == 2.0 * 8 + 1.0 * 2
