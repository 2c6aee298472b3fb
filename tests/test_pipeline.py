"""The LTX-2 pipeline end to end on the tiny demo model: chains, handoffs, schedules, resume, the CLI."""

import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from safetensors.torch import save_file
from test_media import decode

from ltx2.chain.plan import make_plan
from ltx2.chain.schedule import ChunkSchedule
from ltx2.chain.store import RunStore
from ltx2.host import ChainCancelled, StandaloneHost
from ltx2.model.patchify import patchify_audio
from ltx2.pipeline.models import demo_models
from ltx2.pipeline.renderer import LTXChunkRenderer
from ltx2.pipeline.run import render_chain
from ltx2.pipeline.settings import RenderSettings

ROOT = Path(__file__).resolve().parents[1]
AAC_FRAME = 1024
SETTINGS = RenderSettings(width=64, height=64, sigmas=(1.0, 0.7, 0.3, 0.0), guidance="off")


@pytest.fixture(scope="module")
def models():
    return demo_models(seed=0)


def probe(path):
    with av.open(str(path)) as c:
        rate = c.streams.video[0].average_rate
        frames = sum(1 for _ in c.decode(video=0))
    with av.open(str(path)) as c:
        samples = sum(f.samples for f in c.decode(audio=0))
        sample_rate = c.streams.audio[0].sample_rate
    return rate, frames, samples, sample_rate


def cli(*args):
    return subprocess.run([sys.executable, "-m", "ltx2", *args], cwd=ROOT, capture_output=True, text=True, timeout=600)


@pytest.mark.parametrize("frames, chain", [(25, []), (161, ["--clip-frames", "49", "--tail-frames", "17"])])
def test_cli_demo_writes_exact_mp4(tmp_path, frames, chain):
    out = tmp_path / "x.mp4"
    r = cli("render", "--demo", "--frames", str(frames), *chain, "--width", "64", "--height", "64", "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert "DEMO" in r.stderr and r.stdout.strip() == str(out)
    rate, n, samples, sample_rate = probe(out)
    assert (rate, n) == (24, frames)
    assert abs(samples - frames / 24 * sample_rate) <= AAC_FRAME
    assert not (tmp_path / "x.mp4.ltx2run").exists(), "the run directory is removed after success"


def test_cli_compiled_blocks_render_the_same_chain(tmp_path):
    """--compile on a two-chunk chain (torch.compile's inductor on the CPU): the same frames as eager, within rounding."""
    chain = ["render", "--demo", "--frames", "41", "--clip-frames", "25", "--tail-frames", "9", "--width", "64", "--height", "64"]
    eager, compiled = tmp_path / "eager.mp4", tmp_path / "compiled.mp4"
    assert cli(*chain, "--out", str(eager)).returncode == 0
    r = cli(*chain, "--compile", "--out", str(compiled))
    assert r.returncode == 0, r.stderr
    assert "compile: the transformer blocks compile during the first denoise steps" in r.stderr
    a, b = (np.stack(decode(path)[1]).astype(np.int16) for path in (eager, compiled))
    assert a.shape == b.shape == (41, 64, 64, 3)
    per_frame = np.abs(a - b).reshape(len(a), -1).mean(axis=1)  # H.264 may code near-identical frames a little apart
    assert per_frame.mean() < 0.5 and per_frame.max() < 2, per_frame


def test_cli_render_errors_name_the_field(tmp_path):
    r = cli("render", "--frames", "25", "--out", str(tmp_path / "x.mp4"))
    assert r.returncode == 2 and "error: --checkpoint:" in r.stderr
    r = cli("render", "--demo", "--frames", "25", "--width", "100", "--out", str(tmp_path / "x.mp4"))
    assert r.returncode == 2 and "error: --width: must be a positive multiple of 32, got 100" in r.stderr


def tiny_lora(models, path: Path) -> Path:
    """A rank-2 LoRA on two of the demo DiT's attention projections, in the official key layout."""
    g = torch.Generator().manual_seed(1)
    tensors = {}
    for target in ("transformer_blocks.0.attn1.to_q", "transformer_blocks.1.attn2.to_v"):
        linear = models.transformer.get_submodule(target)
        tensors[f"diffusion_model.{target}.lora_A.weight"] = torch.randn(2, linear.in_features, generator=g)
        tensors[f"diffusion_model.{target}.lora_B.weight"] = torch.randn(linear.out_features, 2, generator=g)
    save_file(tensors, str(path))
    return path


def test_chain_with_prompt_changes_and_a_lora_ramp(models, tmp_path):
    models.add_lora("style", tiny_lora(models, tmp_path / "style.safetensors"), 0.0)
    try:
        plan = make_plan(total_frames=113, fps=24, clip_frames=33, tail_frames=9)  # 5 chunks
        schedule = ChunkSchedule.parse(
            {
                "prompt": "a fox walks",
                "prompts": [{"chunk": 2, "text": "the fox runs"}, {"chunk": 4, "text": "the fox sleeps"}],
                "seed": 7,
                "loras": [{"name": "style", "keyframes": [{"chunk": 0, "scale": 0.0}, {"chunk": 4, "scale": 1.0}]}],
            }
        )
        seen = []
        renderer = LTXChunkRenderer(models, SETTINGS)
        original = renderer.render

        def spy(job, handoff, on_step):
            seen.append((job.index, job.params.prompt, models.loras.scale("style") if job.index == 0 else None))
            record = original(job, handoff, on_step)
            seen[-1] = (job.index, job.params.prompt, models.loras.scale("style"))
            return record

        renderer.render = spy
        cache_before = len(models.prompts)
        from ltx2.chain.runner import ChainRunner
        from ltx2.media.sink import MemorySink

        media = ChainRunner(renderer, StandaloneHost("cpu")).run(plan, schedule, MemorySink()).output
        assert [s[1] for s in seen] == ["a fox walks", "a fox walks", "the fox runs", "the fox runs", "the fox sleeps"]
        assert [s[2] for s in seen] == pytest.approx([0.0, 0.25, 0.5, 0.75, 1.0])
        assert len(models.prompts) - cache_before == 3, "each distinct prompt is encoded once"
        assert media.frames.shape == (113, 64, 64, 3) and torch.isfinite(media.frames).all()
        assert media.audio.shape[-1] >= round(113 / 24 * media.sample_rate) - AAC_FRAME
    finally:
        models.loras.remove("style")
        models.lora_files.pop("style", None)


@pytest.mark.parametrize("handoff", ["reencode", "latent"])
def test_tail_and_audio_are_handed_over(models, tmp_path, handoff):
    settings = RenderSettings(width=64, height=64, sigmas=SETTINGS.sigmas, handoff=handoff, guidance="off")
    plan = make_plan(total_frames=57, fps=24, clip_frames=33, tail_frames=9)  # 2 chunks, tail = 2 latent slots
    render_chain(models, settings, plan, ChunkSchedule(), run_dir=tmp_path)
    renderer = LTXChunkRenderer(models, settings)
    first = RunStore(tmp_path)
    records = [first.load(i, key) for i, key in enumerate(_keys(tmp_path))]
    tail = records[0].handoff
    second = records[1].latents
    # strength 1: the receiving chunk's first latent slots are exactly the tail as this chunk's encoder sees it
    encode = lambda frames: renderer._encode(frames, 64, 64)  # noqa: E731
    expected = encode(tail["frames"]) if handoff == "reencode" else torch.cat([encode(tail["frames"][:1]), tail["video_latents"]], 2)
    assert torch.equal(second["video"][:, :, :2], expected)
    # the audio over the tail's seconds continues the previous chunk's sound exactly
    carried = patchify_audio(models.audio.encode_audio(tail["audio"], int(tail["audio_rate"]))[None]).float()
    kept = plan.tail_frames / 24 * 25 - 1  # tokens that end within the tail's seconds (token i ends at (4i+1)/100 s)
    n = int(kept)
    assert torch.equal(patchify_audio(second["audio"])[:, :n], carried[:, :n])


def _keys(run_dir):
    from safetensors import safe_open

    keys = []
    for path in sorted(Path(run_dir).glob("chunk_*.safetensors")):
        with safe_open(str(path), framework="pt") as f:
            keys.append(f.metadata()["key"])
    return keys


def test_resume_is_bit_identical_on_the_model(models, tmp_path):
    plan = make_plan(total_frames=81, fps=Fraction(25), clip_frames=33, tail_frames=9)  # 3 chunks
    schedule = ChunkSchedule.parse({"prompt": "waves", "seed": [3, 4, 5]})
    reference = render_chain(models, SETTINGS, plan, schedule, return_media=True).output
    holder = []

    def stop_after_first(event):
        if event.name == "chunk_done" and event.chunk == 0:
            holder[0].cancel()

    host = StandaloneHost("cpu", listeners=[stop_after_first])
    holder.append(host)
    with pytest.raises(ChainCancelled):
        render_chain(models, SETTINGS, plan, schedule, run_dir=tmp_path, host=host, out_path=tmp_path / "x.mp4")
    assert not (tmp_path / "x.mp4").exists()
    resumed = render_chain(models, SETTINGS, plan, schedule, run_dir=tmp_path, return_media=True)
    assert resumed.rendered == [1, 2]
    assert torch.equal(resumed.output.frames, reference.frames) and torch.equal(resumed.output.audio, reference.audio)


def test_image_to_video_pins_the_first_latent(models):
    image = torch.rand(1, 80, 100, 3)
    plan = make_plan(total_frames=17, fps=24, clip_frames=33, tail_frames=9)
    schedule = ChunkSchedule.parse({"anchors": [{"chunk": 0, "image": "start"}]})
    renderer = LTXChunkRenderer(models, SETTINGS, {"start": image})
    from ltx2.chain.runner import ChainRunner
    from ltx2.media.sink import MemorySink

    store_records = []
    original = renderer.render
    renderer.render = lambda job, handoff, on_step: store_records.append(original(job, handoff, on_step)) or store_records[-1]
    ChainRunner(renderer, StandaloneHost("cpu")).run(plan, schedule, MemorySink())
    from ltx2.pipeline.images import fit_image

    expected = renderer._encode(fit_image(image, 64, 64), 64, 64)
    assert torch.equal(store_records[0].latents["video"][:, :, :1], expected)


def test_unknown_lora_in_the_schedule_is_a_clear_error(models):
    plan = make_plan(total_frames=17, fps=24, clip_frames=33, tail_frames=9)
    with pytest.raises(ValueError, match=r"loras \(chunk 0\): LoRA 'nope' is not loaded"):
        render_chain(models, SETTINGS, plan, ChunkSchedule.parse({"loras": [{"name": "nope", "scale": 1.0}]}))


def test_guidance_defaults_follow_the_schedule(models):
    from ltx2.chain.runner import ChunkJob
    from ltx2.pipeline.settings import full_schedule
    from ltx2.sampling.guidance import NO_GUIDANCE, default_guidance

    plan = make_plan(total_frames=17, fps=24, clip_frames=33, tail_frames=9)
    job = lambda schedule: ChunkJob(plan, plan.chunks[0], ChunkSchedule.parse(schedule).resolve(0, plan))  # noqa: E731
    distilled = LTXChunkRenderer(models, RenderSettings(width=64, height=64))
    full = LTXChunkRenderer(models, RenderSettings(width=64, height=64, sigmas=full_schedule(30)))
    assert distilled._guidance(job({})) == (NO_GUIDANCE, NO_GUIDANCE)
    assert full._guidance(job({})) == default_guidance(models.arch)
    off = LTXChunkRenderer(models, RenderSettings(width=64, height=64, sigmas=full_schedule(30), guidance="off"))
    assert off._guidance(job({})) == (NO_GUIDANCE, NO_GUIDANCE)
    video, audio = full._guidance(job({"guidance": 4.0}))
    assert (video.cfg, audio.cfg, video.stg) == (4.0, 4.0, 0.0)


def test_guided_chunk_renders(models):
    plan = make_plan(total_frames=17, fps=24, clip_frames=33, tail_frames=9)
    run = render_chain(models, SETTINGS, plan, ChunkSchedule.parse({"prompt": "a", "negative_prompt": "b", "guidance": 3.0}), return_media=True)
    assert torch.isfinite(run.output.frames).all() and run.output.frames.shape[0] == 17


def test_two_stage_chain(models):
    settings = RenderSettings(width=128, height=64, sigmas=SETTINGS.sigmas, guidance="off", two_stage=True)
    plan = make_plan(total_frames=41, fps=24, clip_frames=25, tail_frames=9)  # 2 chunks
    steps = []
    host = StandaloneHost("cpu", listeners=[lambda e: steps.append((e.chunk, e.step, e.steps)) if e.name == "denoise_step" else None])
    run = render_chain(models, settings, plan, ChunkSchedule(), return_media=True, host=host)
    assert run.output.frames.shape == (41, 64, 128, 3) and torch.isfinite(run.output.frames).all()
    assert steps[:6] == [(0, i, 6) for i in range(1, 7)], "3 half-size steps then 3 refine steps, one progress bar"
    with pytest.raises(ValueError, match="width: must be a positive multiple of 64 for two-stage"):
        RenderSettings(width=96, height=64, two_stage=True)


def test_soft_anchor_travels_to_continuations(models):
    settings = RenderSettings(width=64, height=64, sigmas=SETTINGS.sigmas, guidance="off", anchor_continuations=0.5)
    plan = make_plan(total_frames=73, fps=24, clip_frames=33, tail_frames=9)  # 3 chunks
    image = torch.rand(1, 64, 64, 3)
    renderer = LTXChunkRenderer(models, settings, {"start": image})
    states = []
    original = renderer._video_state
    renderer._video_state = lambda *a, **k: states.append(original(*a, **k)[0]) or original(*a, **k)
    from ltx2.chain.runner import ChainRunner
    from ltx2.media.sink import MemorySink

    ChainRunner(renderer, StandaloneHost("cpu")).run(plan, ChunkSchedule.parse({"anchors": [{"chunk": 0, "image": "start"}]}), MemorySink())
    assert [s.latent.shape[1] - s.target_tokens for s in states] == [0, 4, 4], "chunks 1 and 2 carry one appended anchor frame (2x2 tokens)"
    assert all(s.mask[0, s.target_tokens :, 0].eq(0.5).all() for s in states[1:])


def test_cli_renders_with_checkpoint_files(tiny_models, tmp_path):
    """The real-model path of the CLI (official file layout, Gemma folder + tokenizer, a runtime LoRA, a schedule
    that ramps it, the distilled LoRA fused at load) on the tiny checkpoints."""
    import json

    from reference import path as reference_path

    models = tiny_models.parent / "models"
    schedule = tmp_path / "s.json"
    schedule.write_text(json.dumps({"prompts": [{"chunk": 1, "text": "the cat sat"}], "loras": [{"name": "cam", "scale": [0.0, 1.0]}]}))
    lora = reference_path("fixtures/checkpoints/tiny-ltx-2-19b-lora-r4.safetensors")
    out = tmp_path / "real.mp4"
    r = cli(
        "render", "--checkpoint", str(models / "checkpoints/ltx-2-19b-dev.safetensors"), "--gemma", str(models / "text_encoders/gemma_3_12B_it.safetensors"),
        "--fused-lora", f"{lora}:0.5", "--lora", f"cam={lora}", "--device", "cpu", "--prompt", "a cat", "--schedule", str(schedule),
        "--frames", "41", "--clip-frames", "25", "--tail-frames", "9", "--width", "64", "--height", "64", "--out", str(out),
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "DEMO" not in r.stderr and "2 chunks" in r.stderr
    assert probe(out)[:2] == (24, 41)


def test_crossfade_turns_the_delivered_overlap_from_the_tail_into_the_new_chunk(models, tmp_path):
    plan = make_plan(total_frames=57, fps=24, clip_frames=33, tail_frames=17, crossfade=True)  # tail = 3 latent slots
    schedule = ChunkSchedule.parse({"handoff_strength": 0.5})  # a loose hold: the receiver's head departs from the tail
    run = render_chain(models, SETTINGS, plan, schedule, run_dir=tmp_path, return_media=True)
    assert run.output.frames.shape[0] == 57
    records = [RunStore(tmp_path).load(i, key) for i, key in enumerate(_keys(tmp_path))]
    tail = LTXChunkRenderer(models, SETTINGS)._encode(records[0].handoff["frames"], 64, 64)
    head = records[1].latents["video"][:, :, :3]
    assert torch.equal(head[:, :, 0], tail[:, :, 0]), "the delivered overlap starts exactly on the tail"
    assert not torch.equal(head[:, :, 2], tail[:, :, 2]), "and ends on the chunk's own content"
