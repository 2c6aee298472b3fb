from fractions import Fraction

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from oracle import SAMPLE_RATE, OracleRenderer

from ltx2.chain.events import ChainFailed, ChunkFinished, DenoiseStep
from ltx2.chain.plan import make_plan, sample_at_frame
from ltx2.chain.runner import ChainRunner
from ltx2.chain.schedule import ChunkSchedule
from ltx2.host import ChainCancelled, StandaloneHost
from ltx2.media.sink import MemorySink


def run(plan, schedule=None, renderer=None, run_dir=None, listeners=()):
    renderer = renderer or OracleRenderer()
    host = StandaloneHost(device="cpu", listeners=list(listeners))
    result = ChainRunner(renderer, host, run_dir).run(plan, schedule or ChunkSchedule(), MemorySink())
    return result, renderer


@st.composite
def chains(draw):
    clip = 8 * draw(st.integers(1, 16)) + 1
    tail = 8 * draw(st.integers(0, (clip - 1) // 8 - 1)) + 1
    fps = draw(st.sampled_from([24, 25, 30, Fraction(24000, 1001), Fraction(30000, 1001)]))
    return make_plan(total_frames=draw(st.integers(1, 700)), fps=fps, clip_frames=clip, tail_frames=tail, max_chunks=10_000, crossfade=draw(st.booleans()))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(chains())
def test_stitching_is_frame_exact(plan):
    result, renderer = run(plan)
    media = result.output
    # every output frame is the rendered frame of the same absolute index: no duplicate, no gap
    assert torch.equal(media.frames[:, 0, 0, 0], torch.arange(plan.total_frames, dtype=torch.float64))
    # audio is cut by time: the stitched track is every sample of [0, total / fps) exactly once
    expected = torch.arange(sample_at_frame(plan.total_frames, plan.fps, SAMPLE_RATE), dtype=torch.float64)
    assert torch.equal(media.audio[0], expected)
    assert media.sample_rate == SAMPLE_RATE
    # each continuation received exactly the frames it overlaps with the previous chunk
    for c in plan.chunks[1:]:
        tail = renderer.handoffs[c.index]["frames"]
        assert torch.equal(tail, torch.arange(c.start, c.start + plan.tail_frames, dtype=torch.float64))
    assert renderer.handoffs[0] is None


def test_schedule_applies_per_chunk():
    plan = make_plan(total_frames=161, fps=24, clip_frames=49, tail_frames=17)  # 5 chunks
    schedule = ChunkSchedule.parse({"prompt": "a", "prompts": [{"chunk": 2, "text": "b"}], "seed": [3, 4], "handoff_strength": [1, 0.5]})
    _, renderer = run(plan, schedule)
    got = [(renderer.params[i].prompt, renderer.params[i].seed, renderer.params[i].handoff_strength) for i in range(5)]
    assert got == [("a", 3, 1.0), ("a", 4, 0.5), ("b", 4, 0.5), ("b", 4, 0.5), ("b", 4, 0.5)]


def test_events_in_order():
    plan = make_plan(total_frames=41, fps=24, clip_frames=25, tail_frames=9)  # 2 chunks
    events = []
    run(plan, renderer=OracleRenderer(steps=2), listeners=[events.append])
    names = [e.name for e in events]
    chunk = ["chunk_start", "denoise_step", "denoise_step", "stitching", "chunk_done"]
    assert names == ["chain_start", *chunk, *chunk, "done"]
    steps = [(e.chunk, e.step, e.steps) for e in events if isinstance(e, DenoiseStep)]
    assert steps == [(0, 1, 2), (0, 2, 2), (1, 1, 2), (1, 2, 2)]
    assert [e.frames_done for e in events if isinstance(e, ChunkFinished)] == [25, 41]
    assert events[0].to_dict()["event"] == "chain_start" and events[0].to_dict()["chunks"] == 2


PLAN = make_plan(total_frames=232, fps=24, clip_frames=49, tail_frames=17)  # 7 chunks: stride 32
SCHEDULE = ChunkSchedule.parse({"seed": [11, 12, 13], "seed_mode": "increment", "prompts": [{"chunk": 3, "text": "later"}]})


def cancel_when(predicate, host_ref):
    def listener(event):
        if predicate(event):
            host_ref[0].cancel()

    return listener


def run_cancelled(tmp_path, predicate):
    renderer = OracleRenderer()
    holder = []
    host = StandaloneHost(device="cpu", listeners=[cancel_when(predicate, holder)])
    holder.append(host)
    sink = MemorySink()
    with pytest.raises(ChainCancelled):
        ChainRunner(renderer, host, tmp_path).run(PLAN, SCHEDULE, sink)
    return renderer


@pytest.mark.parametrize("k", [0, 2, 5])
def test_resume_after_cancel_is_bit_identical(tmp_path, k):
    reference, _ = run(PLAN, SCHEDULE)
    first = run_cancelled(tmp_path, lambda e: isinstance(e, ChunkFinished) and e.chunk == k)
    assert first.rendered == list(range(k + 1))
    resumed, renderer = run(PLAN, SCHEDULE, run_dir=tmp_path)
    assert renderer.rendered == list(range(k + 1, len(PLAN.chunks)))  # chunks 0..k are not rendered again
    assert resumed.rendered == renderer.rendered
    assert torch.equal(resumed.output.frames, reference.output.frames)
    assert torch.equal(resumed.output.audio, reference.output.audio)


def test_cancel_mid_chunk_stops_at_the_next_step_and_loses_only_that_chunk(tmp_path):
    first = run_cancelled(tmp_path, lambda e: isinstance(e, DenoiseStep) and e.chunk == 3 and e.step == 1)
    assert first.rendered == [0, 1, 2]
    _, renderer = run(PLAN, SCHEDULE, run_dir=tmp_path)
    assert renderer.rendered == [3, 4, 5, 6]


def test_editing_a_later_chunk_keeps_the_earlier_ones(tmp_path):
    run(PLAN, SCHEDULE, run_dir=tmp_path)
    edited = SCHEDULE.model_copy(update={"prompts": [*SCHEDULE.prompts, SCHEDULE.prompts[0].model_copy(update={"chunk": 5, "text": "new"})]})
    _, renderer = run(PLAN, edited, run_dir=tmp_path)
    assert renderer.rendered == [5, 6]
    _, renderer = run(PLAN, edited, run_dir=tmp_path, renderer=OracleRenderer(steps=4))  # another model/setting
    assert renderer.rendered == list(range(7))


def test_a_corrupt_chunk_file_is_rendered_again(tmp_path):
    reference, _ = run(PLAN, SCHEDULE, run_dir=tmp_path)
    (tmp_path / "chunk_00002.safetensors").write_bytes(b"not a safetensors file")
    again, renderer = run(PLAN, SCHEDULE, run_dir=tmp_path)
    # keys chain through the parameters, not the content: a deterministic re-render of chunk 2 leaves 3.. valid
    assert renderer.rendered == [2]
    assert torch.equal(again.output.frames, reference.output.frames)


def test_opening_a_run_directory_removes_the_temporary_files_of_killed_runs(tmp_path):
    from ltx2.chain.store import RunStore
    from ltx2.media.files import FileLock

    run(PLAN, SCHEDULE, run_dir=tmp_path)
    kept = sorted(p.name for p in tmp_path.iterdir())
    killed = [tmp_path / "chunk_00007.safetensors.tmp", tmp_path / "run.json.tmp"]  # SIGKILL while saving
    for path in killed:
        path.write_bytes(b"half a chunk")
    saving = tmp_path / "chunk_00008.safetensors.tmp"  # another live run, saving right now
    lock = FileLock(saving)
    try:
        RunStore(tmp_path)
        assert not any(p.exists() for p in killed) and saving.exists()
    finally:
        lock.release()
    saving.unlink()
    assert sorted(p.name for p in tmp_path.iterdir()) == kept, "the run's own files stay"
    _, renderer = run(PLAN, SCHEDULE, run_dir=tmp_path)
    assert renderer.rendered == []


class RecordingSink(MemorySink):
    def __init__(self):
        super().__init__()
        self.calls = []

    def write(self, piece, sample_rate):
        self.calls.append("write")
        super().write(piece, sample_rate)

    def commit(self):
        self.calls.append("commit")
        return super().commit()

    def abort(self):
        self.calls.append("abort")
        super().abort()


def test_failure_mid_chain_fails_closed_and_keeps_finished_chunks(tmp_path):
    events, sink = [], RecordingSink()
    host = StandaloneHost(device="cpu", listeners=[events.append])
    with pytest.raises(RuntimeError, match="oracle failure in chunk 4"):
        ChainRunner(OracleRenderer(fail_at=4), host, tmp_path).run(PLAN, SCHEDULE, sink)
    assert sink.calls == ["write"] * 4 + ["abort"]
    failed = events[-1]
    assert isinstance(failed, ChainFailed) and (failed.chunk, failed.cancelled) == (4, False)
    assert "oracle failure" in failed.message
    _, renderer = run(PLAN, SCHEDULE, run_dir=tmp_path)
    assert renderer.rendered == [4, 5, 6]


def test_short_audio_is_an_error_not_silence():
    class ShortAudio(OracleRenderer):
        def decode(self, job, latents):
            media = super().decode(job, latents)
            media.audio = media.audio[:, : media.audio.shape[-1] // 2]
            return media

    with pytest.raises(RuntimeError, match="audio samples"):
        run(make_plan(total_frames=49, fps=24, clip_frames=49, tail_frames=17), renderer=ShortAudio())


def test_without_a_sink_chunks_are_rendered_but_not_decoded():
    class NoDecode(OracleRenderer):
        def decode(self, job, latents):
            raise AssertionError("decode must not run without a sink")

    plan = make_plan(total_frames=41, fps=24, clip_frames=25, tail_frames=9)
    result = ChainRunner(NoDecode(), StandaloneHost(device="cpu")).run(plan, ChunkSchedule(), None)
    assert [int(lat["index"][0]) for lat in result.output] == [c.start for c in plan.chunks]
    assert result.rendered == [0, 1]
