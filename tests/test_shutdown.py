"""Stopping a render: signals turned into a cancel, an encoder joined before its file closes, and a render killed
with SIGKILL leaving a playable fragmented file that the next run replaces."""

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import av
import numpy as np
import pytest
import torch

from ltx2.chain.plan import make_plan
from ltx2.media.background import BackgroundSink
from ltx2.media.sink import MemorySink
from ltx2.shutdown import stop_on_signals

ROOT = Path(__file__).resolve().parents[1]


def test_first_signal_cancels_the_second_interrupts_and_handlers_come_back():
    before = signal.getsignal(signal.SIGTERM)
    cancels, notes = [], []
    with stop_on_signals(lambda: cancels.append(1), notes.append) as stop:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.05)  # the handler runs on the main thread at the next bytecode
        assert cancels == [1] and stop.signum == signal.SIGTERM and stop.exit_code == 143
        assert "SIGTERM: stopping after the current step" in notes[0]
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(1)
        assert cancels == [1], "cancel is asked once"
    assert signal.getsignal(signal.SIGTERM) is before


def test_no_handlers_off_the_main_thread():
    seen = []

    def worker():
        with stop_on_signals(lambda: None) as stop:
            seen.append((signal.getsignal(signal.SIGINT), stop.exit_code))

    t = threading.Thread(target=worker)
    t.start()
    t.join()
    assert seen == [(signal.default_int_handler, 130)]


def test_an_interrupt_during_the_join_never_closes_the_sink_under_the_writer():
    log, aborting = [], threading.Event()

    class SlowSink(MemorySink):
        def write(self, piece, sample_rate):
            if aborting.wait(5):
                time.sleep(0.1)  # the main thread is joining by now
                os.kill(os.getpid(), signal.SIGINT)  # a second Ctrl-C during the cleanup, while this piece is written
                aborting.clear()
            time.sleep(0.5)
            log.append("wrote")
            super().write(piece, sample_rate)

        def abort(self):
            log.append("abort")

    sink = BackgroundSink(SlowSink(), max_pending=2)
    sink.open(24, 3)
    piece = sink.prepare(torch.zeros(1, 2, 2, 3), None)
    for _ in range(3):
        sink.write(piece, None)
    with pytest.raises(KeyboardInterrupt):
        aborting.set()
        sink.abort()
    assert log == ["wrote", "abort"], "the piece being written finished, the queued ones were dropped, then abort"


def decode(path):
    with av.open(str(path)) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    with av.open(str(path)) as c:
        samples = sum(f.samples for f in c.decode(audio=0))
        rate = c.streams.audio[0].sample_rate
    return frames, samples / rate


def test_sigkill_mid_chain_leaves_the_finished_chunks_playable_and_the_next_run_replaces_it(tmp_path):
    out = tmp_path / "x.mp4"
    frames, clip, tail = 121, 33, 9
    plan = make_plan(total_frames=frames, fps=24, clip_frames=clip, tail_frames=tail)
    args = [sys.executable, "-m", "ltx2", "render", "--demo", "--frames", str(frames), "--clip-frames", str(clip),
            "--tail-frames", str(tail), "--width", "64", "--height", "64", "--steps", "2", "--out", str(out)]  # fmt: skip
    proc = subprocess.Popen(args, cwd=ROOT, stderr=subprocess.PIPE, text=True)
    try:
        for line in proc.stderr:
            if " done" in line and line.startswith("chunk "):
                break
        deadline = time.monotonic() + 120
        partial = None
        while time.monotonic() < deadline and proc.poll() is None:  # wait for the first fragment on disk
            written = list(tmp_path.glob(".x.mp4.*.writing"))
            if written and written[0].stat().st_size > 2000:
                partial = written[0]
                try:
                    if decode(partial)[0]:
                        break
                except av.FFmpegError:
                    pass
            time.sleep(0.05)
        proc.kill()
    finally:
        proc.kill()
        proc.wait()
    assert partial is not None and proc.returncode == -signal.SIGKILL, "killed mid-chain, while writing"
    assert not out.exists()
    got, seconds = decode(partial)
    boundaries = [c.keep[1] for c in plan.chunks[:-1]]
    assert len(got) in boundaries, f"the partial holds whole chunks: {len(got)} frames, chunk ends at {boundaries}"
    assert abs(seconds - len(got) / 24) <= 0.15, "and about their sound (the audio encoder lags by a frame or two)"

    r = subprocess.run(args, check=False, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert "(resumed)" in r.stderr
    assert not list(tmp_path.glob(".x.mp4.*")), "the killed run's temporary file is gone"
    final, final_seconds = decode(out)
    assert len(final) == frames and abs(final_seconds - frames / 24) <= 0.05
    assert all(np.array_equal(a, b) for a, b in zip(got, final)), "the partial is the start of the finished video"
