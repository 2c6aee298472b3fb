"""LTX-2.5 end to end on the tiny split files: the CLI renders a chain from a release folder or from the files one by
one; the first-frame marker and the ancestral first stage reach the render; wrong combinations of files are one
message naming the files and what fits."""

import importlib
import json
import shutil

import pytest
import torch
from reference import checkpoint_entry, path
from safetensors.torch import load_file, save_file
from test_pipeline import AAC_FRAME, cli, probe, tiny_lora
from test_sampler_node import node
from text_fixtures import TINY_GEMMA

from ltx2.chain.plan import make_plan
from ltx2.chain.runner import ChunkJob
from ltx2.chain.schedule import ChunkSchedule
from ltx2.errors import InputError
from ltx2.host import ChainCancelled, StandaloneHost
from ltx2.loading.build import CheckpointMismatch
from ltx2.loading.checkpoint import CheckpointFile
from ltx2.pipeline.models import load_models
from ltx2.pipeline.renderer import LTXChunkRenderer
from ltx2.pipeline.run import render_chain
from ltx2.pipeline.settings import RenderSettings

FILES = {role: path(checkpoint_entry(f"ltx25_{role}")["file"]) for role in ("transformer", "text_encoder", "video_vae", "audio_vae")}
RELEASE = FILES["transformer"].parents[1]  # diffusion_models/, text_encoders/, vae/
LORA_23 = path("fixtures/checkpoints/tiny-ltx-2.3-22b-lora-r4.safetensors")
SETTINGS = RenderSettings(width=64, height=64, guidance="off")


@pytest.fixture(scope="module")
def models():
    return load_models(RELEASE, device="cpu")


def test_the_cli_renders_a_chain_from_the_release_folder(tmp_path):
    out = tmp_path / "x.mp4"
    r = cli("render", "--checkpoint", str(RELEASE), "--frames", "41", "--clip-frames", "25", "--tail-frames", "9", "--width", "64", "--height", "64",
            "--prompt", "a paper boat", "--device", "cpu", "--out", str(out))  # fmt: skip
    assert r.returncode == 0, r.stderr
    rate, frames, samples, sample_rate = probe(out)
    assert (rate, frames, sample_rate) == (24, 41, 48000)
    assert abs(samples - 41 / 24 * sample_rate) <= AAC_FRAME


def test_the_files_one_by_one_are_the_release_folder(models):
    one_by_one = load_models(FILES["transformer"], FILES["text_encoder"], vae=FILES["video_vae"], audio_vae=FILES["audio_vae"], device="cpu")
    assert one_by_one.arch == models.arch == "ltx25"
    assert one_by_one.name == models.name
    assert json.loads(models.name)["vae"] == FILES["video_vae"].name  # a resumed chain never mixes VAE files


def test_frame_zero_is_marked_and_anchors_are_not(models):
    plan = make_plan(total_frames=25, fps=24, clip_frames=25, tail_frames=9)
    params = ChunkSchedule.parse({"prompt": "x", "anchors": [{"chunk": 0, "position": "last", "image": "end.png"}]}).resolve(0, plan)
    renderer = LTXChunkRenderer(models, SETTINGS, images={"end.png": torch.rand(64, 64, 3)})
    job = ChunkJob(plan=plan, chunk=plan.chunks[0], params=params)
    with models.phase("encode"):
        encoded = renderer._encoded(job, None, renderer._stages())
    state, _ = renderer._video_state(job, None, encoded, torch.Generator().manual_seed(0), 64, 64)
    frame = (64 // 32) ** 2
    target = plan.chunks[0].latent_frames * frame
    assert state.latent.shape[1] == target + frame  # the anchor's tokens are appended
    assert state.keyframes[0, :frame].eq(1).all() and state.keyframes[0, frame:].eq(0).all()


def test_the_distilled_first_stage_is_ancestral_on_ltx25(models, tmp_path):
    plan = make_plan(total_frames=25, fps=24, clip_frames=25, tail_frames=9)
    outputs = {}
    for sampler in ("auto", "ancestral", "euler"):
        run = render_chain(models, RenderSettings(width=64, height=64, guidance="off", sampler=sampler), plan, ChunkSchedule.parse({"prompt": "x", "seed": 3}), return_media=True)
        outputs[sampler] = run.output.frames
    assert torch.equal(outputs["auto"], outputs["ancestral"])
    assert not torch.equal(outputs["auto"], outputs["euler"])


def test_a_23_lora_on_a_25_model_names_both(models):
    with pytest.raises(InputError, match=r"tiny-ltx-2.3-22b-lora-r4.safetensors is a LoRA for LTX-2.3 .* tiny-ltx-2.5-22b-transformer.safetensors is LTX-2.5"):
        models.add_lora("style", LORA_23)
    with pytest.raises(InputError, match="is a LoRA for LTX-2.3"):
        load_models(RELEASE, device="cpu", fused_loras=((str(LORA_23), 1.0),))


def test_gemma_3_with_a_25_transformer_names_both_versions():
    with pytest.raises(CheckpointMismatch, match=r"tiny-ltx-2.5-22b-transformer.safetensors needs the Gemma text encoder with gemma_version 'gemma4-12b-ltx-v1'.*tiny-gemma3"):
        load_models(FILES["transformer"], TINY_GEMMA, vae=FILES["video_vae"], audio_vae=FILES["audio_vae"], device="cpu")


def test_a_split_set_with_a_file_missing_says_which():
    with pytest.raises(InputError, match=r"--audio-vae: .*holds only the transformer .*give --audio-vae"):
        load_models(FILES["transformer"], FILES["text_encoder"], vae=FILES["video_vae"], device="cpu")
    r = cli("render", "--checkpoint", str(FILES["transformer"]), "--text-encoder", str(FILES["text_encoder"]), "--frames", "25", "--out", "x.mp4")
    assert r.returncode == 2 and "error: --vae:" in r.stderr and "error: --audio-vae:" in r.stderr and "Traceback" not in r.stderr


def test_mixed_versions_name_the_files(tmp_path):
    older = tmp_path / "ltx-2.3-audio-vae.safetensors"
    save_file(load_file(FILES["audio_vae"]), str(older), metadata={**CheckpointFile(FILES["audio_vae"]).metadata, "model_version": "2.3.0"})
    with pytest.raises(InputError, match=r"different model versions .*tiny-ltx-2.5-22b-transformer.safetensors is 2.5.0.*ltx-2.3-audio-vae.safetensors is 2.3.0"):
        load_models(FILES["transformer"], FILES["text_encoder"], vae=FILES["video_vae"], audio_vae=older, device="cpu")
    single = path("fixtures/checkpoints/tiny-ltx-2.3-22b.safetensors")
    with pytest.raises(InputError, match="single-file checkpoint that holds its own VAEs"):
        load_models(single, TINY_GEMMA, vae=FILES["video_vae"], device="cpu")


def test_a_release_folder_with_two_transformers_asks_for_the_files(tmp_path):
    release = tmp_path / "release"
    shutil.copytree(RELEASE, release)
    shutil.copy(FILES["transformer"], release / "diffusion_models" / "ltx-2.5-22b-dev-transformer.safetensors")
    with pytest.raises(InputError, match=r"expected one transformer file in diffusion_models/, found .*dev-transformer.*; give the files one by one"):
        load_models(release, device="cpu")


def test_a_lora_ramp_and_resume_work_on_ltx25(models, tmp_path):
    lora = tiny_lora(models, tmp_path / "ltx-2.5-style.safetensors")
    models.add_lora("style", lora, 0.0)
    try:
        plan = make_plan(total_frames=41, fps=24, clip_frames=25, tail_frames=9)  # 2 chunks
        schedule = ChunkSchedule.parse({"prompt": "a paper boat", "seed": [3, 4], "loras": [{"name": "style", "keyframes": [{"chunk": 0, "scale": 0.0}, {"chunk": 1, "scale": 1.0}]}]})
        reference = render_chain(models, SETTINGS, plan, schedule, return_media=True).output
        flat = render_chain(models, SETTINGS, plan, ChunkSchedule.parse({"prompt": "a paper boat", "seed": [3, 4]}), return_media=True).output
        assert not torch.equal(reference.frames, flat.frames)  # the ramp reached the second chunk
        holder = []

        def stop_after_first(event):
            if event.name == "chunk_done" and event.chunk == 0:
                holder[0].cancel()

        holder.append(StandaloneHost("cpu", listeners=[stop_after_first]))
        with pytest.raises(ChainCancelled):
            render_chain(models, SETTINGS, plan, schedule, run_dir=tmp_path / "run", host=holder[0])
        resumed = render_chain(models, SETTINGS, plan, schedule, run_dir=tmp_path / "run", return_media=True)
        assert resumed.rendered == [1]
        assert torch.equal(resumed.output.frames, reference.frames) and torch.equal(resumed.output.audio, reference.audio)
    finally:
        models.loras.remove("style")


def test_the_single_file_loader_points_a_25_transformer_to_the_split_loader(pack, tmp_path, monkeypatch):
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "ltx-2.5-22b-distilled-transformer-bf16.safetensors").symlink_to(FILES["transformer"])
    (tmp_path / "text_encoders").mkdir()
    (tmp_path / "text_encoders" / "te.safetensors").symlink_to(FILES["text_encoder"])
    monkeypatch.setenv("LTX2CHAIN_MODELS", str(tmp_path))
    errors = importlib.import_module(pack.__name__ + ".ltx2.errors")
    with pytest.raises(errors.InputError, match=r"checkpoint: ltx-2.5-22b-distilled-transformer-bf16.safetensors holds only a transformer .*Load LTX-2.5 Model \(split files\)"):
        node(pack, "ModelLoader").execute(
            checkpoint="ltx-2.5-22b-distilled-transformer-bf16.safetensors", text_encoder="te.safetensors", tokenizer="auto", dtype="fp32",
            device="cpu", distilled_lora="none", distilled_lora_strength=1.0, spatial_upsampler="none",
        )  # fmt: skip
