"""Memory: streamed loading, fp8 kept as fp8, per-phase residency and block streaming (tiny checkpoints, CPU).

Every offload mode must compute exactly what the all-resident render computes; the residency ledger must show
what each mode promises (the text encoder off the device while denoising, at most N+1 DiT blocks on it).
"""

import json
import shutil

import pytest
import torch
from reference import path as reference_path
from safetensors.torch import save_file
from test_transformer_loading import write_fp8_copy
from text_fixtures import TINY_GEMMA, save_tiny_tokenizer

from ltx2.chain.plan import make_plan
from ltx2.chain.schedule import ChunkSchedule
from ltx2.loading.checkpoint import CheckpointFile
from ltx2.loading.transformer import load_transformer
from ltx2.model.fp8_linear import Fp8Linear, set_fp8_matmul
from ltx2.pipeline.models import load_models
from ltx2.pipeline.run import render_chain
from ltx2.pipeline.settings import RenderSettings

CKPT = reference_path("fixtures/checkpoints/tiny-ltx-2-19b.safetensors")
LORA = reference_path("fixtures/checkpoints/tiny-ltx-2-19b-lora-r4.safetensors")
LAYERS = 6


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """The tiny 19B checkpoint grown to 6 blocks (copies of its two), and the tiny Gemma with a tokenizer."""
    root = tmp_path_factory.mktemp("memory")
    source = CheckpointFile(CKPT)
    state = source.tensors(strip=False)
    block = "model.diffusion_model.transformer_blocks."
    for key in [k for k in state if k.startswith(block)]:
        index, rest = key[len(block) :].split(".", 1)
        for i in range(int(index) + 2, LAYERS, 2):
            state[f"{block}{i}.{rest}"] = state[key].clone()
    config = source.config
    config["transformer"]["num_layers"] = LAYERS
    save_file(state, str(root / "ltx.safetensors"), metadata={**source.metadata, "config": json.dumps(config)})
    gemma = root / "gemma"
    shutil.copytree(TINY_GEMMA, gemma)
    save_tiny_tokenizer(gemma)
    return root / "ltx.safetensors", gemma


def render(files, offload="none", **load):
    models = load_models(*files, device="cpu", dtype=torch.float32, fused_loras=((LORA, 0.5),), offload=offload, **load)
    models.add_lora("cam", LORA, 0.0)
    schedule = ChunkSchedule.parse({"prompt": "a cat", "prompts": [{"chunk": 1, "text": "the cat sat"}], "loras": [{"name": "cam", "scale": [0.0, 1.0]}]})
    plan = make_plan(total_frames=41, fps=24, clip_frames=25, tail_frames=9)
    run = render_chain(models, RenderSettings(width=64, height=64), plan, schedule, return_media=True)
    return models, run.output


@pytest.fixture(scope="module")
def resident(files):
    return render(files, "none")


@pytest.mark.parametrize("mode", ["model", "blocks"])
def test_offload_modes_compute_exactly_what_the_resident_render_computes(files, resident, mode):
    models, media = render(files, mode, blocks=1)
    reference = resident[1]
    assert torch.equal(media.frames, reference.frames) and torch.equal(media.audio, reference.audio)
    ledger = list(models.residency.ledger)
    phases = [r.phase for r in ledger]
    assert phases.count("text") == 1 and phases.index("text") < phases.index("denoise"), "every prompt encoded up front, once"
    full = resident[0].residency.resident_bytes("transformer")
    for record in ledger:
        if record.phase == "denoise":
            assert record.resident["text_encoder"] == 0 and record.resident["video_decoder"] == 0
            if mode == "blocks":
                assert 0 < record.blocks_peak["transformer"] <= 2  # N + 1 of 6
                assert record.resident["transformer"] < full
            else:
                assert record.resident["transformer"] == full
        else:
            assert record.resident["transformer"] == 0
        if record.phase == "text":
            assert record.resident["text_encoder"] > 0
            if mode == "blocks":  # Gemma's layers stream too
                assert 0 < record.blocks_peak["text_encoder"] <= 2  # of 3


def test_switching_back_to_none_reads_every_freed_weight_back(files):
    models = load_models(*files, device="cpu", dtype=torch.float32, offload="model")
    assert any(t.is_meta for t in models.transformer.state_dict().values()), "the DiT waits in its file until first used"
    models.offload("none")
    assert not any(t.is_meta for m in models.modules().values() for t in m.state_dict().values())


def test_the_resident_render_keeps_everything_on_the_device(resident):
    models, _ = resident
    assert all(all(size > 0 for name, size in r.resident.items() if name != "upsampler") for r in models.residency.ledger)


def test_fp8_file_stays_fp8_and_computes_what_the_dequantised_model_computes(tmp_path):
    fp8_path = tmp_path / "fp8.safetensors"
    write_fp8_copy(CheckpointFile(CKPT), fp8_path)
    kept = load_transformer(CheckpointFile(fp8_path), dtype=torch.float32)
    full = load_transformer(CheckpointFile(fp8_path), dtype=torch.float32, weights="full")
    layers = [m for m in kept.modules() if isinstance(m, Fp8Linear)]
    assert layers and all(m.weight.dtype == torch.float8_e4m3fn for m in layers)
    assert not any(isinstance(m, Fp8Linear) for m in full.modules())
    x = torch.randn(3, layers[0].in_features)
    name = next(n for n, m in kept.named_modules() if m is layers[0])
    assert torch.equal(layers[0](x), full.get_submodule(name)(x))
    fp8_bytes = sum(m.weight.nbytes for m in layers)
    assert fp8_bytes * 4 == sum(full.get_submodule(n).weight.nbytes for n, m in kept.named_modules() if isinstance(m, Fp8Linear))


def test_weights_fp8_quantises_a_bf16_file_at_load():
    model = load_transformer(CheckpointFile(CKPT), dtype=torch.float32, weights="fp8")
    reference = load_transformer(CheckpointFile(CKPT), dtype=torch.float32)
    block_linears = [n for n, m in reference.named_modules() if isinstance(m, torch.nn.Linear) and n.startswith("transformer_blocks.")]
    assert block_linears and all(isinstance(model.get_submodule(n), Fp8Linear) for n in block_linears)
    assert not isinstance(model.patchify_proj, Fp8Linear)
    for name in block_linears[:4]:
        w, ref = model.get_submodule(name).compute_weight(torch.float32), reference.get_submodule(name).weight
        assert float((w - ref).norm() / ref.norm()) < 0.05 and not torch.equal(w, ref)


def test_fp8_matmul_is_close_to_the_weight_only_path():
    model = load_transformer(CheckpointFile(CKPT), dtype=torch.float32, weights="fp8")
    layer = next(m for m in model.modules() if isinstance(m, Fp8Linear) and m.in_features % 16 == 0 and m.out_features % 16 == 0)
    x = torch.randn(5, 7, layer.in_features)
    weight_only = layer(x)
    assert set_fp8_matmul(model, True) > 0
    fast = layer(x)
    assert fast.shape == weight_only.shape and not torch.equal(fast, weight_only)
    assert float((fast - weight_only).norm() / weight_only.norm()) < 0.1


def test_the_resume_key_changes_with_what_changes_the_numbers():
    from ltx2.model.fp8_linear import quantize_linears
    from ltx2.pipeline.models import demo_models
    from ltx2.pipeline.renderer import LTXChunkRenderer

    models = demo_models()
    settings = RenderSettings(width=64, height=64)
    before = json.loads(LTXChunkRenderer(models, settings).fingerprint())
    assert before["numerics"] == {"device": "cpu", "dtype": "torch.float32", "torch": torch.__version__, "fp8_matmul": False, "threads": torch.get_num_threads()}
    assert quantize_linears(models.transformer, "transformer_blocks.") and set_fp8_matmul(models.transformer, True)
    assert json.loads(LTXChunkRenderer(models, settings).fingerprint())["numerics"]["fp8_matmul"] is True


@pytest.mark.parametrize("mode, blocks", [("model", 8), ("blocks", 3)])
def test_the_peak_weight_bytes_of_a_component(files, mode, blocks):
    from ltx2.memory.residency import Residency

    dit = load_transformer(CheckpointFile(files[0]), dtype=torch.float32)
    sizes = [sum(t.nbytes for t in block.state_dict().values()) for block in dit.transformer_blocks]
    total = sum(t.nbytes for t in dit.state_dict().values())
    residency = Residency({"transformer": dit}, torch.device("cpu"), mode, blocks=blocks)
    # blocks on the CPU: blocks-1 resident and one streamed in at a time (no prefetch slot without CUDA)
    expected = total if mode == "model" else total - sum(sizes) + sum(sizes[: blocks - 1]) + max(sizes[blocks - 1 :])
    assert residency.peak_weight_bytes("transformer") == expected
