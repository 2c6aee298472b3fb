import threading
import time

import av
import pytest
import torch
from oracle import SAMPLE_RATE, PatternRenderer

from ltx2.chain.plan import make_plan
from ltx2.chain.runner import ChainRunner
from ltx2.chain.schedule import ChunkSchedule
from ltx2.host import ChainCancelled, StandaloneHost
from ltx2.media.background import BackgroundSink, EncoderError
from ltx2.media.mp4 import Mp4Writer
from ltx2.media.sink import MemorySink

PLAN = make_plan(total_frames=100, fps="24000/1001", clip_frames=33, tail_frames=9)  # 4 chunks, the last cut
AAC_FRAME = 1024


def lossless(path, **kw):
    return BackgroundSink(Mp4Writer(path, crf=0, preset="ultrafast", **kw))


def decode(path):
    with av.open(str(path)) as c:
        video = c.streams.video[0]
        rate = video.average_rate
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    with av.open(str(path)) as c:
        audio = c.streams.audio[0]
        samples = sum(f.samples for f in c.decode(audio=0))
        sample_rate = audio.sample_rate
    return rate, frames, samples, sample_rate


def encoder_threads():
    return [t for t in threading.enumerate() if t.name == "ltx2-encoder"]


def test_chain_to_mp4_exact_frames_fps_audio_and_pixels(tmp_path):
    out = tmp_path / "chain.mp4"
    renderer = PatternRenderer()
    result = ChainRunner(renderer, StandaloneHost(device="cpu")).run(PLAN, ChunkSchedule(), lossless(out))
    assert result.output == out and out.exists()
    assert not list(tmp_path.glob(".*writing")), "the temporary file was renamed"
    rate, frames, samples, sample_rate = decode(out)
    assert rate == PLAN.fps and len(frames) == PLAN.total_frames
    assert sample_rate == SAMPLE_RATE
    video_seconds = PLAN.total_frames / PLAN.fps
    assert abs(samples - video_seconds * SAMPLE_RATE) <= AAC_FRAME
    # known frames, including both sides of every seam, carry the right picture
    checks = [0, 1, PLAN.total_frames - 1] + [i for c in PLAN.chunks[1:] for i in (c.keep[0] - 1, c.keep[0])]
    centres = (slice(8, None, 16), slice(8, None, 16))  # block centres: away from chroma filtering at edges
    for i in checks:
        expected = (renderer.pictures(torch.tensor([i]))[0] * 255).round()[centres]
        got = torch.from_numpy(frames[i]).float()[centres]
        assert (got - expected).abs().max() <= 3, f"frame {i}"
        assert abs(int(got[0, 0, 0]) - int(renderer.level(torch.tensor(i)))) <= 1


def test_pieces_are_copied_before_the_renderer_reuses_its_buffers():
    release = threading.Event()

    class SlowSink(MemorySink):
        def write(self, piece, sample_rate):
            release.wait(5)
            super().write(piece, sample_rate)

    sink = BackgroundSink(SlowSink())
    sink.open(PLAN.fps, 4)
    buffer = torch.zeros(2, 4, 4, 3)
    sink.write(sink.prepare(buffer, None), None)
    buffer.fill_(1.0)  # the renderer reuses its buffer while the encoder still waits
    sink.write(sink.prepare(buffer, None), None)
    release.set()
    media = sink.commit()
    assert media.frames[:2].eq(0).all() and media.frames[2:].eq(1).all()
    assert not encoder_threads()


def test_queue_is_bounded():
    release = threading.Event()

    class StuckSink(MemorySink):
        def write(self, piece, sample_rate):
            release.wait(10)
            super().write(piece, sample_rate)

    sink = BackgroundSink(StuckSink(), max_pending=1)
    sink.open(PLAN.fps, 3)
    piece = sink.prepare(torch.zeros(1, 2, 2, 3), None)
    sink.write(piece, None)  # taken by the worker, which is now stuck
    deadline = time.monotonic() + 5
    while not sink._queue.empty() and time.monotonic() < deadline:
        time.sleep(0.01)
    sink.write(piece, None)  # waits in the queue
    third = threading.Thread(target=sink.write, args=(piece, None))
    third.start()
    third.join(0.3)
    assert third.is_alive(), "a third piece must wait: the queue holds one"
    release.set()
    third.join(5)
    assert sink.commit().frames.shape[0] == 3


class FailingWriter(Mp4Writer):
    def __init__(self, path, fail_on: int):
        super().__init__(path, crf=0, preset="ultrafast")
        self.fail_on, self.pieces = fail_on, 0

    def write(self, piece, sample_rate):
        self.pieces += 1
        if self.pieces == self.fail_on:
            raise OSError(28, "No space left on device")
        super().write(piece, sample_rate)


def test_encoder_failure_stops_the_chain_cleanly(tmp_path):
    out = tmp_path / "x.mp4"
    long_plan = make_plan(total_frames=200, fps=24, clip_frames=33, tail_frames=9)  # 8 chunks
    renderer = PatternRenderer(step_seconds=0.05)
    with pytest.raises(EncoderError, match="the video encoder failed: .*No space left on device"):
        ChainRunner(renderer, StandaloneHost(device="cpu")).run(long_plan, ChunkSchedule(), BackgroundSink(FailingWriter(out, fail_on=1)))
    assert not out.exists() and not list(tmp_path.iterdir()), "no final file, no temporary left behind"
    assert not encoder_threads()
    # the failure surfaces at a denoise step of the next chunk, not after the whole chain
    assert len(renderer.rendered) <= 2 < len(long_plan.chunks)


@pytest.mark.parametrize("keep_partial", [False, True])
def test_cancel_leaves_nothing_or_a_playable_partial(tmp_path, keep_partial):
    out = tmp_path / "x.mp4"
    holder = []

    def listener(event):
        if event.name == "chunk_done" and event.chunk == 2:
            holder[0].cancel()

    host = StandaloneHost(device="cpu", listeners=[listener])
    holder.append(host)
    with pytest.raises(ChainCancelled):
        ChainRunner(PatternRenderer(), host).run(PLAN, ChunkSchedule(), lossless(out, keep_partial=keep_partial))
    assert not out.exists() and not encoder_threads()
    partial = tmp_path / "x.partial.mp4"
    assert partial.exists() == keep_partial
    if keep_partial:
        _, frames, _, _ = decode(partial)
        assert len(frames) == PLAN.chunks[2].keep[1]  # everything up to the last finished chunk
    assert {p.name for p in tmp_path.iterdir()} <= {"x.partial.mp4"}
    ChainRunner(PatternRenderer(), StandaloneHost(device="cpu")).run(PLAN, ChunkSchedule(), lossless(out, keep_partial=keep_partial))
    assert {p.name for p in tmp_path.iterdir()} == {"x.mp4"}  # the finished run's video replaces the partial


def test_mp4_pieces_are_owned_copies(tmp_path):
    writer = Mp4Writer(tmp_path / "x.mp4")
    frames = torch.zeros(2, 4, 4, 3, dtype=torch.uint8)
    audio = torch.zeros(2, 100)
    pixels, samples = writer.prepare(frames, audio)
    frames.fill_(7)
    audio.fill_(0.5)
    assert pixels.max() == 0 and samples.max() == 0
    nan_audio = torch.tensor([[float("nan"), 2.0, -float("inf")]])
    assert writer.prepare(frames, nan_audio)[1].tolist() == [[0.0, 1.0, 0.0]]  # AAC cannot take non-finite samples


def test_tee_writes_the_file_and_keeps_frames_in_memory(tmp_path):
    from ltx2.media.sink import TeeSink

    out = tmp_path / "tee.mp4"
    result = ChainRunner(PatternRenderer(), StandaloneHost(device="cpu")).run(PLAN, ChunkSchedule(), TeeSink(lossless(out), MemorySink()))
    path, media = result.output
    assert path == out and media.frames.shape[0] == PLAN.total_frames
    assert len(decode(out)[1]) == PLAN.total_frames


def top_level_boxes(path):
    data, boxes, at = path.read_bytes(), [], 0
    while at + 8 <= len(data):
        size = int.from_bytes(data[at : at + 4], "big")
        boxes.append(data[at + 4 : at + 8].decode())
        at += size if size >= 8 else len(data)
    return boxes


@pytest.mark.parametrize("keep_partial", [False, True])
def test_finished_and_partial_files_are_regular_faststart_mp4s(tmp_path, keep_partial):
    out = tmp_path / "x.mp4"
    sink = lossless(out, keep_partial=keep_partial)
    sink.open(PLAN.fps, 4)
    for level in (0.2, 0.8):  # two pieces: two fragments while writing
        sink.write(sink.prepare(torch.full((2, 16, 16, 3), level), torch.zeros(2, 800)), SAMPLE_RATE)
    fragmented = list(tmp_path.glob(".x.mp4.*.writing"))
    if keep_partial:
        sink.abort()
    else:
        sink.commit()
    done = tmp_path / ("x.partial.mp4" if keep_partial else "x.mp4")
    boxes = top_level_boxes(done)
    assert "moof" not in boxes and boxes.index("moov") < boxes.index("mdat"), boxes  # index first: plays while downloading
    assert len(decode(done)[1]) == 4
    assert len(fragmented) == 1 and not fragmented[0].exists() and {p.name for p in tmp_path.iterdir()} == {done.name}


def test_the_temporary_file_is_fragmented_a_fragment_per_piece(tmp_path):
    writer = Mp4Writer(tmp_path / "x.mp4", crf=0, preset="ultrafast")
    writer.open(PLAN.fps, 6)
    for level in (0.2, 0.5, 0.8):
        writer.write(writer.prepare(torch.full((2, 16, 16, 3), level), None), None)
    writer._close()
    assert top_level_boxes(writer.tmp_path).count("moof") == 3
    writer.tmp_path.unlink()


def test_opening_removes_temporary_files_no_live_writer_holds(tmp_path):
    from ltx2.media.files import FileLock

    stale = tmp_path / ".x.mp4.99999.writing"  # left by a killed run
    stale.write_bytes(b"half a video")
    half_copied = tmp_path / ".x.mp4.99999.flattening"  # killed while copying to the final file
    half_copied.write_bytes(b"")
    held = tmp_path / ".x.mp4.88888.writing"  # another live writer of the same output
    lock = FileLock(held)
    other = tmp_path / ".y.mp4.77777.writing"  # another output's
    other.write_bytes(b"")
    try:
        writer = Mp4Writer(tmp_path / "x.mp4")
        writer.open(PLAN.fps, 1)
        assert not stale.exists() and not half_copied.exists() and held.exists() and other.exists()
        writer.abort()
    finally:
        lock.release()


KILLED_WRITER = """
import os, signal, sys, torch
from fractions import Fraction
from ltx2.media.mp4 import Mp4Writer
writer = Mp4Writer(sys.argv[1], crf=0, preset="medium")  # the default preset: B-frames and lookahead
writer.open(Fraction(sys.argv[2]), 1000)
for n, samples in ((33, 22022), (24, 16016)):
    writer.write(writer.prepare(torch.full((n, 16, 16, 3), n / 40), torch.full((2, samples), 0.25)), 16000)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_writer_killed_after_two_pieces_leaves_exactly_their_frames_and_sound(tmp_path):
    import signal
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", KILLED_WRITER, str(tmp_path / "x.mp4"), str(PLAN.fps)], capture_output=True, text=True, timeout=120)
    assert done.returncode == -signal.SIGKILL, done.stderr
    (left,) = tmp_path.glob(".x.mp4.*.writing")
    rate, frames, samples, sample_rate = decode(left)
    assert rate == PLAN.fps and len(frames) == 33 + 24, "every frame of both pieces, none held back by the encoder or muxer"
    assert [round(f.mean() / 255 * 40) for f in (frames[0], frames[32], frames[33], frames[-1])] == [33, 33, 24, 24]
    assert sample_rate == 16000 and 38038 - 3 * AAC_FRAME < samples <= 38038, "the sound up to the AAC encoder's delay"
