"""Inside ComfyUI (stand-ins of its modules, see conftest): each node has ComfyUI load only the components it runs,
with the memory planner's working memory; the networks are built from ComfyUI's castable layers, so its partial
loading may leave the DiT's weights on the offload device (fp8 ones included) and the output stays the same."""

import copy
import sys
import types

import pytest
import torch
from test_clip_nodes import sample
from test_sampler_node import node, run_sampler
from test_transformer_loading import write_fp8_copy

from ltx2.loading.checkpoint import CheckpointFile
from ltx2.memory.planner import Geometry

TEXT = ["audio_connector", "text_encoder", "text_features", "video_connector"]


def load_model(pack, comfy, tmp_path, **options):
    comfy.folders.update({kind: ([tmp_path / "models" / kind], set()) for kind in ("checkpoints", "text_encoders", "loras")})
    return node(pack, "ModelLoader").execute(
        checkpoint="ltx-2.3-22b-distilled.safetensors", text_encoder="gemma_3_12B_it.safetensors", tokenizer="auto", dtype="fp32", device="default",
        distilled_lora="none", distilled_lora_strength=1.0, spatial_upsampler="none", **options,
    ).args[0]  # fmt: skip


def loaded(model, comfy) -> list[tuple[list[str], bool]]:
    """(component names, whole) of every load ComfyUI was asked for; the record is emptied."""
    name = {id(p): n for n, p in model.managed.patchers.items()}
    assert all(load.memory_required > 0 for load in comfy.loads), "every load states its working memory"
    out = [(sorted(name[id(p)] for p in load.patchers), load.force_full_load) for load in comfy.loads]
    comfy.loads.clear()
    return out


def test_each_node_loads_only_what_it_runs(pack, tiny_models, inside_comfyui, comfy, tmp_path):
    model = load_model(pack, comfy, tmp_path)
    assert comfy.loads == []  # loading the files puts nothing on the GPU
    conditioning = node(pack, "TextEncode").execute(model=model, prompt="a fox", negative_prompt="").args[0]
    assert conditioning.positive is not None
    assert loaded(model, comfy) == [(TEXT, True)]  # the text encoder alone: not the DiT

    m = model.models
    video = {"samples": torch.randn(1, m.latent_channels, 2, 1, 1)}
    audio = {"samples": torch.randn(1, m.audio.decoder.cfg.z_channels, 5, m.audio.decoder.cfg.latent_mel_bins), "type": "audio"}
    frames = node(pack, "DecodeVideo").execute(model=model, video_latent=video, tile_size=0, temporal_tile=0).args[0]
    assert frames.shape == (9, 32, 32, 3)
    assert loaded(model, comfy) == [(["video_decoder"], True)]
    sound = node(pack, "DecodeAudio").execute(model=model, audio_latent=audio).args[0]
    assert sound["waveform"].shape[:2] == (1, 2)
    assert loaded(model, comfy) == [(["audio_decoder", "vocoder"], True)]

    sample(pack, model, conditioning=conditioning)  # the prompt comes encoded: no text phase
    assert loaded(model, comfy) == [(["transformer"], False)]  # latents out: no decoder


def test_working_memory_follows_the_render_size(pack, tiny_models, inside_comfyui, comfy, tmp_path):
    model = load_model(pack, comfy, tmp_path)
    work = {}
    for width in (64, 128):
        sample(pack, model, prompt="a fox", width=width, height=64)
        work[width] = {tuple(p.model.held is model.models.transformer for p in load.patchers): load.memory_required for load in comfy.loads}
        comfy.loads.clear()
    assert work[128][(True,)] > work[64][(True,)]  # the DiT's working memory grows with the tokens


def test_a_guided_render_asks_a_gpu_for_one_pass_and_the_cpu_for_the_batch(pack, tiny_models, inside_comfyui, comfy, tmp_path):
    models = load_model(pack, comfy, tmp_path).models
    guided, unguided = (Geometry(64, 64, 25, 9, guidance_passes=n) for n in (4, 1))
    on_gpu = copy.copy(models)
    on_gpu.device = torch.device("cuda")  # only read for its type here: the renderer batches on a GPU only when there is room
    assert on_gpu.working_memory(guided)["denoise"] == on_gpu.working_memory(unguided)["denoise"] == models.working_memory(unguided)["denoise"]
    assert models.working_memory(guided)["denoise"] > models.working_memory(unguided)["denoise"]  # the CPU always batches


def cast_everything(module: torch.nn.Module) -> int:
    """What ComfyUI's partial loading does to the layers it leaves on the offload device: cast them per forward."""
    layers = [m for m in module.modules() if hasattr(m, "comfy_cast_weights")]
    for layer in layers:
        layer.comfy_cast_weights = True
    return len(layers)


@pytest.mark.parametrize("source", ["fp8 file", "bf16 file, weight_dtype fp8_e4m3fn"])
def test_fp8_weights_stay_fp8_and_cast_per_layer_equals_the_loaded_path(pack, tiny_models, inside_comfyui, comfy, tmp_path, source):
    fp8 = pack.__name__ + ".ltx2.model.fp8_linear"
    if source == "fp8 file":  # an official-style fp8 file (weight_scale and input_scale per block Linear) in its place
        target = tmp_path / "models/checkpoints/ltx-2.3-22b-distilled.safetensors"
        original = target.resolve()
        target.unlink()
        write_fp8_copy(CheckpointFile(original), target)
        model = load_model(pack, comfy, tmp_path)
    else:
        model = load_model(pack, comfy, tmp_path, weight_dtype="fp8_e4m3fn")
    dit = model.models.transformer
    kept = [m for m in dit.modules() if type(m).__name__ == "ComfyFp8Linear"]
    assert kept and all(m.weight.dtype == torch.float8_e4m3fn for m in kept)
    assert all((m.input_scale is not None) == (source == "fp8 file") for m in kept)  # the file's activation scales kept
    assert all(isinstance(m, __import__(fp8, fromlist=["Fp8Linear"]).Fp8Linear) for m in kept)

    resident = sample(pack, model, prompt="a fox", seed=5)
    assert not comfy.casts
    assert cast_everything(dit) > len(kept)
    cast = sample(pack, model, prompt="a fox", seed=5)
    assert {"ComfyFp8Linear", "Linear", "RMSNorm"} <= set(comfy.casts)
    assert torch.equal(cast[0]["samples"], resident[0]["samples"]) and torch.equal(cast[1]["samples"], resident[1]["samples"])


def test_compiled_blocks_run_when_comfyui_casts_weights_in_code_the_compiler_cannot_trace(pack, tiny_models, inside_comfyui, comfy, tmp_path, monkeypatch):
    model_nodes = sys.modules[pack.__name__ + ".nodes.model_nodes"]
    compile_blocks = model_nodes.compile_blocks
    monkeypatch.setattr(model_nodes, "compile_blocks", lambda transformer: compile_blocks(transformer, backend="aot_eager"))
    ops = sys.modules["comfy.ops"]  # partial loading's weight cast, made opaque to the compiler (as other packs' ops are)
    monkeypatch.setattr(ops, "cast_bias_weight", torch.compiler.disable(ops.cast_bias_weight))
    eager = sample(pack, load_model(pack, comfy, tmp_path), prompt="a fox", seed=5)
    model = load_model(pack, comfy, tmp_path, compile=True)
    dit = model.models.transformer
    assert all(block._compiled_call_impl is not None for block in dit.transformer_blocks)
    cast_everything(dit)
    compiled = sample(pack, model, prompt="a fox", seed=5)
    assert {"Linear", "RMSNorm"} <= set(comfy.casts)  # the compiled blocks ran ComfyUI's cast, between their graphs
    for got, want in zip(compiled, eager):
        torch.testing.assert_close(got["samples"], want["samples"], rtol=1e-4, atol=1e-4)


def test_resident_blocks_streams_the_dit_after_comfyui_frees_room(pack, tiny_models, inside_comfyui, comfy, tmp_path, monkeypatch):
    latest = types.ModuleType("comfy_api.latest")  # the sampler's VIDEO output
    latest.InputImpl = types.SimpleNamespace(VideoFromFile=lambda path: ("VIDEO", path))
    monkeypatch.setitem(sys.modules, "comfy_api", types.ModuleType("comfy_api"))
    monkeypatch.setitem(sys.modules, "comfy_api.latest", latest)
    model = load_model(pack, comfy, tmp_path, resident_blocks=1)
    assert "transformer" not in model.managed.patchers  # the pack streams it; ComfyUI is asked for room instead
    records = []
    original = model.managed.attach

    def attach(models, geometry):  # watch the run's phases
        original(models, geometry)
        models.residency.on_phase = records.append

    model.managed.attach = attach
    run_sampler(pack, model, schedule='{"prompt": "a fox"}')
    denoise = [r for r in records if r.phase == "denoise"]
    assert denoise and all(r.blocks_peak == {"transformer": 1} for r in denoise)  # one block on the device at a time (CPU)
    assert len(comfy.frees) == len(denoise) and all(size > 0 for size, _ in comfy.frees)
    assert all("transformer" not in names for names, _ in loaded(model, comfy))
