"""The memory planner against what the engine really loads, and the CLI's memory flags."""

import json
import subprocess
import sys

import pytest
import torch
from reference import path as reference_path
from test_memory import files  # noqa: F401  (the 6-block checkpoint and Gemma folder fixture)
from test_transformer_loading import write_fp8_copy

from ltx2.loading.checkpoint import CheckpointFile
from ltx2.memory.planner import GiB, Geometry, checkpoint_components, choose, gemma_component, plan_files
from ltx2.pipeline.models import load_models

CKPT = reference_path("fixtures/checkpoints/tiny-ltx-2-19b.safetensors")


def loaded_bytes(module: torch.nn.Module) -> int:
    return sum(t.nbytes for t in module.state_dict().values())


@pytest.mark.parametrize("weights", ["auto", "fp8"])
def test_header_arithmetic_matches_the_loaded_components(files, weights):  # noqa: F811
    checkpoint, gemma = files
    models = load_models(checkpoint, gemma, device="cpu", dtype=torch.float32, weights=weights)
    planned = checkpoint_components(CheckpointFile(checkpoint), weights=weights, dtype_bytes=4)
    _, planned["text_encoder"] = gemma_component(gemma, weights=weights, dtype_bytes=4)
    for name, module in models.modules().items():
        if name == "upsampler":
            continue
        assert planned[name].bytes == loaded_bytes(module), name
    blocks = planned["transformer"].block_bytes
    assert len(blocks) == 6 and sum(blocks) == sum(loaded_bytes(b) for b in models.transformer.transformer_blocks)


def test_fp8_file_is_planned_at_one_byte_per_block_weight(tmp_path):
    fp8 = tmp_path / "fp8.safetensors"
    write_fp8_copy(CheckpointFile(CKPT), fp8)
    from ltx2.loading.transformer import load_transformer

    planned = checkpoint_components(CheckpointFile(fp8), dtype_bytes=4)["transformer"].bytes
    assert planned == loaded_bytes(load_transformer(CheckpointFile(fp8), dtype=torch.float32))
    assert planned < checkpoint_components(CheckpointFile(CKPT), dtype_bytes=4)["transformer"].bytes


def test_modes_trade_memory_for_speed_and_the_choice_names_what_fits(files):  # noqa: F811
    plans = plan_files(*files, Geometry(64, 64, 25, 9), dtype=torch.float32, device_type="cpu")
    peaks = {p.label: p.peak for p in plans}
    denoise = {p.label: p.phases["denoise"].peak for p in plans}
    assert peaks["model"] < peaks["none"] and denoise["blocks (1)"] < denoise["blocks (4)"] < denoise["model"] == denoise["blocks (16)"]
    assert choose(plans, 100 * GiB).mode == "none"
    assert choose(plans, peaks["model"]).mode == "model"
    # at this size decoding, not the DiT, sets the floor: the fastest mode that reaches it is named
    assert min(peaks.values()) == peaks["model"]
    with pytest.raises(ValueError, match=r"smallest peak is .* \(--offload model\)"):
        choose(plans, peaks["model"] - 1)


def test_a_guided_render_is_planned_with_one_pass_on_a_gpu_and_the_whole_batch_elsewhere(files):  # noqa: F811
    def plans(passes: int, device_type: str) -> dict:
        geometry = Geometry(64, 64, 25, 9, guidance_passes=passes)
        return {p.label: p for p in plan_files(*files, geometry, dtype=torch.float32, device_type=device_type)}

    gpu_one, gpu_guided, cpu_one, cpu_guided = plans(1, "cuda"), plans(4, "cuda"), plans(1, "cpu"), plans(4, "cpu")
    # a GPU's renderer batches the 4 passes only when the room is free as the denoise starts (one by one otherwise),
    # so its plans leave room for one pass; the CPU's always batches, so its plans count the batch
    for label, plan in gpu_guided.items():
        assert plan.phases["denoise"].activations == gpu_one[label].phases["denoise"].activations, label
    assert cpu_guided["model"].phases["denoise"].activations > cpu_one["model"].phases["denoise"].activations
    # so a card with room for the DiT and one pass keeps the DiT on it rather than streaming its blocks in
    assert choose(list(gpu_guided.values()), gpu_one["model"].peak).mode == "model"


def cli(*args):
    return subprocess.run([sys.executable, "-m", "ltx2", *args], capture_output=True, text=True, timeout=300)


def test_memory_command_and_bad_flags(files, tmp_path):  # noqa: F811
    checkpoint, gemma = files
    common = ["--checkpoint", str(checkpoint), "--gemma", str(gemma), "--device", "cpu"]
    r = cli("memory", *common, "--width", "64", "--height", "64", "--frames", "25", "--vram", "100", "--json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    assert data["chosen"]["mode"] == "none" and {m["mode"] for m in data["modes"]} == {"none", "model", "blocks"}

    render = ["render", *common, "--frames", "25", "--clip-frames", "25", "--tail-frames", "9", "--width", "64", "--height", "64", "--out", str(tmp_path / "x.mp4")]
    r = cli(*render, "--offload", "sideways")
    assert r.returncode == 2 and "--offload: invalid choice: 'sideways'" in r.stderr
    r = cli(*render, "--tile", "40")
    assert r.returncode == 2 and "tile" in r.stderr and "multiple of 32" in r.stderr
    r = cli(*render, "--offload", "blocks", "--blocks", "0")
    assert r.returncode == 2 and "error: --blocks: must be at least 1, got 0" in r.stderr
    r = cli(*render, "--vram", "0")
    assert r.returncode == 2 and "error: --vram: must be more than 0 GiB" in r.stderr
    r = cli(*render, "--vram", "0.0001")
    assert r.returncode == 2 and "no offload mode fits 0.0 GiB: the smallest peak is" in r.stderr and "(--offload model)" in r.stderr
    between = (data["modes"][0]["peak_bytes"] + data["modes"][1]["peak_bytes"]) / 2 / GiB  # model fits, none does not
    r = cli(*render, "--vram", str(between), "--offload", "none")
    assert r.returncode == 2 and "--offload model fits" in r.stderr
    assert not (tmp_path / "x.mp4").exists()


def test_memory_load_measures_and_render_verbose_prints_the_ledger(files, tmp_path):  # noqa: F811
    checkpoint, gemma = files
    common = ["--checkpoint", str(checkpoint), "--gemma", str(gemma), "--device", "cpu", "--width", "64", "--height", "64"]
    r = cli("memory", *common, "--frames", "25", "--vram", "100", "--load", "--json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    measured, planned = data["measured"], data["chosen"]["phases"]["denoise"]["weights_bytes"]
    assert measured["mode"] == "none" and measured["measured_peak_bytes"] > measured["loaded_weight_bytes"] > 0
    assert abs(measured["loaded_weight_bytes"] / planned - 1) < 0.01  # float32 on the CPU: the planner's bytes

    out = tmp_path / "v.mp4"
    r = cli("render", *common, "--frames", "25", "--clip-frames", "25", "--tail-frames", "9", "--offload", "model", "--verbose", "--out", str(out))
    assert r.returncode == 0, r.stderr
    lines = [line.strip() for line in r.stderr.splitlines()]
    denoise = next(line for line in lines if line.startswith("denoise:"))
    assert "transformer" in denoise and "text_encoder" not in denoise
    assert next(line for line in lines if line.startswith("text:")).count("text_encoder") == 1
    assert out.is_file()

    r = cli("render", *common, "--frames", "25", "--clip-frames", "25", "--tail-frames", "9", "--offload", "blocks", "--blocks", "3", "--verbose", "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert "offload: blocks (3)" in r.stderr and "transformer: at most 3 blocks" in r.stderr  # N: no block in flight on a CPU
