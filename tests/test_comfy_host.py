"""ComfyHost against stand-ins of the ComfyUI modules it calls (no ComfyUI is installed here)."""

import importlib
import sys

import pytest
from oracle import OracleRenderer


def test_comfy_host_reports_progress_and_honours_interrupt(pack, comfy):
    # the pack's own copies of the engine modules, as inside ComfyUI
    engine = {m: importlib.import_module(f"{pack.__name__}.ltx2.{m}") for m in ("chain.plan", "chain.runner", "chain.schedule", "media.sink")}
    make_plan, ChainRunner = engine["chain.plan"].make_plan, engine["chain.runner"].ChainRunner
    ChunkSchedule, MemorySink = engine["chain.schedule"].ChunkSchedule, engine["media.sink"].MemorySink
    host_module = sys.modules[pack.__name__ + ".nodes.host"]
    plan = make_plan(total_frames=41, fps=24, clip_frames=25, tail_frames=9)  # 2 chunks
    host = host_module.ComfyHost("7", "prompt-1")
    assert (host.device, host.dtype) == ("cpu", "bf16")
    ChainRunner(OracleRenderer(steps=3), host).run(plan, ChunkSchedule(), MemorySink())
    events = [d["event"] for e, d, sid in comfy.sent]
    assert events[0] == "chain_start" and events[-1] == "done" and events.count("denoise_step") == 6
    assert {(e, sid) for e, d, sid in comfy.sent} == {("ltx2chain.progress", "client-1")}
    assert all(d["node"] == "7" and d["prompt_id"] == "prompt-1" and "eta_seconds" in d and "render_speed" in d for e, d, sid in comfy.sent)
    (bar,) = comfy.bars
    assert (bar.total, bar.node_id, bar.values) == (6, "7", [1, 2, 3, 4, 5, 6])

    comfy.interrupt = True
    comfy.sent.clear()
    with pytest.raises(comfy.Interrupted) as raised:
        ChainRunner(OracleRenderer(steps=3), host_module.ComfyHost("7")).run(plan, ChunkSchedule(), MemorySink())
    # still ComfyUI's interrupt (the executor reports execution_interrupted), and the chain calls it a cancel
    assert isinstance(raised.value, importlib.import_module(pack.__name__ + ".ltx2.host").ChainCancelled)
    assert comfy.sent[-1][1]["event"] == "error" and comfy.sent[-1][1]["cancelled"] is True


def test_model_files_come_from_comfyui_folders(inside_comfyui, comfy, tmp_path, monkeypatch):
    monkeypatch.setenv("LTX2CHAIN_MODELS", str(tmp_path / "ignored"))  # only for standalone use
    first, extra = tmp_path / "models/checkpoints", tmp_path / "extra/checkpoints"
    for path in (first / "ltx-2-19b-distilled.safetensors", extra / "ltx-2.3-22b-dev.safetensors", tmp_path / "ignored/checkpoints/x.safetensors"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")
    comfy.folders["checkpoints"] = ([first, extra], {".safetensors"})
    files = inside_comfyui.files
    assert files.list_models("checkpoints") == ["ltx-2-19b-distilled.safetensors", "ltx-2.3-22b-dev.safetensors"]
    assert files.resolve("checkpoints", "ltx-2.3-22b-dev.safetensors") == extra / "ltx-2.3-22b-dev.safetensors"
    assert files.list_models("latent_upscale_models") == []  # a folder kind this ComfyUI does not know
    with pytest.raises(FileNotFoundError, match="looked in .*models/checkpoints"):
        files.resolve("checkpoints", "x.safetensors")


def test_outputs_go_to_the_comfyui_output_folder(inside_comfyui, comfy):
    target = inside_comfyui.outputs.video_target("ltx2chain/fox")
    assert target.path == comfy.output / "ltx2chain/fox_00001_.mp4"
    assert target.run_dir == comfy.output / "ltx2chain_runs/ltx2chain/fox"
    assert inside_comfyui.host.blocked_output("turn on return_frames") == ("blocked", "turn on return_frames")


def test_managed_modules_hand_our_modules_to_model_management(inside_comfyui, comfy):
    import torch

    modules = {"transformer": torch.nn.Linear(2, 2), "video_decoder": torch.nn.Conv2d(1, 1, 1)}
    load, offload, dtype = inside_comfyui.host.model_placement()
    assert (load, offload, dtype) == (torch.device("cpu"), torch.device("cpu"), "bf16")
    managed = inside_comfyui.host.ManagedModules(modules, torch.device("cuda"), offload)
    assert {n: (p.model.held, p.load_device, p.offload_device) for n, p in managed.patchers.items()} == {
        n: (m, torch.device("cuda"), torch.device("cpu")) for n, m in modules.items()
    }
    assert managed.patchers["transformer"].model.get_dtype() == torch.float32
    assert managed.load(["video_decoder", "vocoder"], 123) == ["video_decoder"]  # only what it holds
    assert managed.load(["transformer"], 456) == ["transformer"]
    decoder, dit = comfy.loads
    # the VAE expects all its weights where it computes: whole; the DiT may be loaded partially
    assert (decoder.patchers, decoder.memory_required, decoder.force_full_load) == ([managed.patchers["video_decoder"]], 123, True)
    assert (dit.patchers, dit.memory_required, dit.force_full_load) == ([managed.patchers["transformer"]], 456, False)


def test_core_model_patcher_is_preferred_when_comfyui_has_it(inside_comfyui, comfy):
    import torch

    class Dynamic(sys.modules["comfy.model_patcher"].ModelPatcher):
        pass

    sys.modules["comfy.model_patcher"].CoreModelPatcher = Dynamic  # rebound at start-up by dynamic VRAM
    managed = inside_comfyui.host.ManagedModules({"vocoder": torch.nn.Linear(1, 1)}, torch.device("cpu"), torch.device("cpu"))
    assert type(managed.patchers["vocoder"]) is Dynamic


def test_a_finished_chunk_carries_a_small_preview_of_its_last_frame(pack, comfy):
    import base64
    import io

    from PIL import Image

    engine = {m: importlib.import_module(f"{pack.__name__}.ltx2.{m}") for m in ("chain.plan", "chain.runner", "chain.schedule", "media.sink")}
    host_module = sys.modules[pack.__name__ + ".nodes.host"]
    plan = engine["chain.plan"].make_plan(total_frames=41, fps=24, clip_frames=25, tail_frames=9)
    engine["chain.runner"].ChainRunner(OracleRenderer(steps=1), host_module.ComfyHost("7")).run(plan, engine["chain.schedule"].ChunkSchedule(), engine["media.sink"].MemorySink())
    done = [d for e, d, sid in comfy.sent if d["event"] == "chunk_done"]
    assert len(done) == 2
    for payload in done:
        head, data = payload["preview"].split(",", 1)
        assert head == "data:image/jpeg;base64"
        picture = Image.open(io.BytesIO(base64.b64decode(data)))
        assert picture.format == "JPEG" and picture.width <= host_module.PREVIEW_WIDTH
