"""The loader and sampler nodes: outputs, schedule precedence, resume on re-queue, LoRAs attached only for a
run, and the same nodes inside ComfyUI (stand-in modules: model management, progress events, VIDEO)."""

import hashlib
import importlib
import json
import sys
import types

import av
import numpy as np
import pytest
import torch
from test_workflows import TINY_RUN, decode_mp4, schemas

RUN = {**TINY_RUN, "fps": 24.0, "max_chunks": 10, "handoff": "latent", "drift": 0.0, "steps": 0, "guidance": "auto", "two_stage": False, "anchor_continuations": 0.0, "keep_partial": False}
SCHEDULE = {"prompt": "a cat sat on the mat", "seed": 5, "prompts": [{"chunk": 1, "text": "the cat sat"}]}


def node(pack, node_id):
    return schemas(pack)["LTX2Chain_" + node_id][0]


def run_sampler(pack, model, node_id="5", **inputs):
    cls = node(pack, "ChainSampler")
    holder = sys.modules[pack.__name__ + ".nodes.host"].io.HiddenHolder
    clone = type(cls.__name__, (cls,), {"hidden": holder(unique_id=node_id)})  # as ComfyUI's executor does
    return clone.execute(model=model, **{**RUN, "schedule": "", "filename_prefix": "t/chain", "return_frames": False, **inputs})


@pytest.fixture(scope="module")
def demo(pack):
    return node(pack, "DemoModel").execute(seed=0).args[0]


def count_renders(pack, monkeypatch):
    renderer = importlib.import_module(pack.__name__ + ".ltx2.pipeline.renderer").LTXChunkRenderer
    calls = []
    original = renderer.render

    def render(self, job, handoff, on_step):
        calls.append(job.index)
        return original(self, job, handoff, on_step)

    monkeypatch.setattr(renderer, "render", render)
    return calls


def count_steps(pack, monkeypatch):
    """The denoise step count of each chunk, from the steps the runner reports."""
    runner = importlib.import_module(pack.__name__ + ".ltx2.chain.runner").ChainRunner
    totals = []
    original = runner._on_step

    def on_step(self, index, chunks, sink):
        report = original(self, index, chunks, sink)

        def counted(done, total):
            if done == total:
                totals.append(total)
            return report(done, total)

        return counted

    monkeypatch.setattr(runner, "_on_step", on_step)
    return totals


def test_sampler_returns_frames_audio_and_plan_and_resumes_on_requeue(pack, demo, tiny_models, monkeypatch):
    rendered = count_renders(pack, monkeypatch)
    ScheduleInput = sys.modules[pack.__name__ + ".nodes.schedule_nodes"].ScheduleInput
    linked = node(pack, "Schedule").execute(schedule=json.dumps(SCHEDULE)).args[0]
    assert isinstance(linked, ScheduleInput)
    out = run_sampler(pack, demo, schedule_in=linked, schedule=json.dumps({"prompt": "the widget, ignored when linked"}), return_frames=True)
    video, images, audio, plan_json = out.args
    assert video == tiny_models / "t/chain_00001_.mp4" and rendered == [0, 1]
    assert images.shape == (41, 64, 64, 3) and images.dtype == torch.float32 and 0 <= images.min() <= images.max() <= 1
    waveform, rate = audio["waveform"], audio["sample_rate"]
    assert waveform.dim() == 3 and waveform.shape[0] == 1 and abs(waveform.shape[-1] - 41 * rate / 24) <= rate / 24
    plan = json.loads(plan_json)
    assert [c["params"]["prompt"] for c in plan["chunks"]] == ["a cat sat on the mat", "the cat sat"]
    assert out.ui == {"images": [{"filename": "chain_00001_.mp4", "subfolder": "t", "type": "output"}], "animated": [True]}
    assert decode_mp4(video) == (41, 24, True)
    with av.open(str(video)) as container:
        first = next(container.decode(video=0)).to_ndarray(format="rgb24")
    # the IMAGE output is what was encoded (compared by mean colour: H.264 smooths the demo model's noise)
    assert np.abs(first.reshape(-1, 3).mean(0) - images[0].reshape(-1, 3).mean(0).numpy() * 255).max() < 4

    # the same chain queued again: a new file, every chunk resumed from the run directory
    again = run_sampler(pack, demo, schedule_in=linked)
    assert again.args[0] == tiny_models / "t/chain_00002_.mp4" and rendered == [0, 1]
    assert again.args[1] is None and again.args[2] is None
    # the JSON widget is used when nothing is linked: different prompts, so both chunks render again (here with
    # the full models' schedule, 3 steps, no guidance)
    steps = count_steps(pack, monkeypatch)
    run_sampler(pack, demo, schedule=json.dumps({"prompt": "a mat"}), steps=3, guidance="off")
    assert rendered == [0, 1, 0, 1] and steps == [3, 3]


def test_bad_schedule_json_is_refused_before_running(pack):
    sampler = node(pack, "ChainSampler")
    assert sampler.validate_inputs(schedule='{"promt": "x"}').startswith("schedule: promt")
    assert sampler.validate_inputs(schedule=None) is True


def test_runtime_loras_are_attached_only_during_a_run(pack, tiny_models):
    model = node(pack, "ModelLoader").execute(
        checkpoint="ltx-2-19b-dev.safetensors", text_encoder="gemma_3_12B_it.safetensors", tokenizer="auto", dtype="fp32", device="default",
        distilled_lora="ltx-2-19b-distilled-lora-384.safetensors", distilled_lora_strength=1.0, spatial_upsampler="none",
    ).args[0]
    lora = node(pack, "LoraLoader")
    styled = lora.execute(model=model, lora="ltx-2-19b-lora-camera-control-dolly-in.safetensors", scale=0.5, name="").args[0]
    assert model.loras == () and [(x.name, x.scale) for x in styled.loras] == [("ltx-2-19b-lora-camera-control-dolly-in", 0.5)]
    with pytest.raises(ValueError, match="already attached"):
        lora.execute(model=styled, lora="ltx-2-19b-lora-camera-control-dolly-in.safetensors", scale=1.0, name="")
    prepared = sys.modules[pack.__name__ + ".nodes.chain_model"].prepared
    hooks = lambda m: sum(len(x._forward_hooks) for x in m.transformer.modules())  # noqa: E731
    with prepared(styled) as models:
        assert models.loras.names == ["ltx-2-19b-lora-camera-control-dolly-in"] and hooks(models) > 0
        path = sys.modules[pack.__name__ + ".nodes.model_files"].resolve("loras", "ltx-2-19b-lora-camera-control-dolly-in.safetensors")
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        assert models.lora_files == {"ltx-2-19b-lora-camera-control-dolly-in": f"ltx-2-19b-lora-camera-control-dolly-in.safetensors sha256:{digest}"}
    assert hooks(model.models) == 0 and model.models.lora_files == {}
    with pytest.raises(RuntimeError, match="boom"), prepared(styled) as models:
        raise RuntimeError("boom")
    assert hooks(model.models) == 0


def test_missing_model_file_names_the_folder(pack, tiny_models):
    with pytest.raises(FileNotFoundError, match=r"checkpoints: 'ltx-2.3-22b-dev.safetensors' not found; put it in the checkpoints models folder \(looked in .*models/checkpoints\)"):
        node(pack, "ModelLoader").execute(
            checkpoint="ltx-2.3-22b-dev.safetensors", text_encoder="gemma_3_12B_it.safetensors", tokenizer="auto", dtype="auto", device="cpu",
            distilled_lora="none", distilled_lora_strength=1.0, spatial_upsampler="none",
        )


def write_png(path, width=40, height=24):
    with av.open(str(path), "w", format="image2") as container:
        stream = container.add_stream("png")
        stream.width, stream.height, stream.pix_fmt = width, height, "rgb24"
        picture = np.zeros((height, width, 3), np.uint8)
        picture[..., 0] = 200
        for packet in stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")):
            container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def test_inside_comfyui(pack, tiny_models, inside_comfyui, comfy, tmp_path, monkeypatch):
    # the node API and files of a ComfyUI install, as stand-ins
    comfy.folders.update({kind: ([tmp_path / "models" / kind], set()) for kind in ("checkpoints", "text_encoders", "loras")})
    inputs = tmp_path / "input"
    inputs.mkdir()
    write_png(inputs / "fox.png")
    sys.modules["folder_paths"].get_annotated_filepath = lambda name: str(inputs / name)
    latest = types.ModuleType("comfy_api.latest")
    latest.InputImpl = types.SimpleNamespace(VideoFromFile=lambda path: ("VIDEO", path))
    monkeypatch.setitem(sys.modules, "comfy_api", types.ModuleType("comfy_api"))
    monkeypatch.setitem(sys.modules, "comfy_api.latest", latest)

    model = node(pack, "ModelLoader").execute(
        checkpoint="ltx-2.3-22b-distilled.safetensors", text_encoder="gemma_3_12B_it.safetensors", tokenizer="auto", dtype="fp32", device="default",
        distilled_lora="none", distilled_lora_strength=1.0, spatial_upsampler="none",
    ).args[0]
    patchers = model.managed.patchers
    assert {name: p.model.held for name, p in patchers.items()} == model.models.modules()  # every weight-holding module
    assert all(p.model.state_dict().keys() == {"held." + k for k in p.model.held.state_dict()} for p in patchers.values())
    assert all(str(p.load_device) == "cpu" and str(p.offload_device) == "cpu" for p in patchers.values())

    renderer = importlib.import_module(pack.__name__ + ".ltx2.pipeline.renderer").LTXChunkRenderer
    given = []
    original_init = renderer.__init__
    monkeypatch.setattr(renderer, "__init__", lambda self, models, settings, images=None, guides=None: given.append(images) or original_init(self, models, settings, images, guides))
    schedule = {"prompt": "a fox", "anchors": [{"chunk": 0, "image": "fox.png"}]}
    video, images, audio, plan_json = run_sampler(pack, model, node_id="12", schedule=json.dumps(schedule)).args
    # each phase had ComfyUI load only its own components, with the planner's working memory for it
    name = {id(p): n for n, p in patchers.items()}
    phases = [(sorted(name[id(p)] for p in load.patchers), load.force_full_load) for load in comfy.loads]
    text = (["audio_connector", "text_encoder", "text_features", "video_connector"], True)
    encode, denoise = (["audio_encoder", "video_encoder"], True), (["transformer"], False)
    decode = (["audio_decoder", "video_decoder", "vocoder"], True)
    assert phases == [text, encode, denoise, decode, encode, denoise, decode]  # 2 chunks, prompts encoded once
    assert all(load.memory_required > 0 for load in comfy.loads)
    dit = model.models.transformer
    assert type(dit.transformer_blocks[0].attn1.to_q) is sys.modules["comfy.ops"].disable_weight_init.Linear  # ComfyUI's layers
    assert video == ("VIDEO", str(comfy.output / "t/chain_00001_.mp4"))
    assert images == audio == ("blocked", pack_message(pack))
    events = [d for e, d, sid in comfy.sent if e == "ltx2chain.progress"]
    assert events[0]["event"] == "chain_start" and events[-1]["event"] == "done" and {d["node"] for d in events} == {"12"}
    assert decode_mp4(comfy.output / "t/chain_00001_.mp4") == (41, 24, True)
    # the anchor the timeline editor picked from ComfyUI's input folder reached the renderer as a picture
    ((images_given,),) = [list(g.items()) for g in given]
    name, picture = images_given
    assert name == "fox.png" and picture.shape == (24, 40, 3)
    assert torch.allclose(picture.reshape(-1, 3).mean(0), torch.tensor([200 / 255, 0.0, 0.0]), atol=0.02)


def pack_message(pack):
    return sys.modules[pack.__name__ + ".nodes.sampler"].FRAMES_OFF


def test_tile_inputs_reach_the_render_settings(pack, demo, tiny_models, monkeypatch):
    inputs = node(pack, "ChainSampler").GET_SCHEMA().inputs
    # inputs added later come last and are optional: old workflows still validate, their widget values stay in place
    later = ["tile_size", "temporal_tile", "sampler", "soundtrack", "source_video", "media_length", "audio_end"]
    assert [(i.id, i.optional) for i in inputs[-len(later) :]] == [(name, True) for name in later]
    tiling = importlib.import_module(pack.__name__ + ".ltx2.model.vae_tiling")
    Axis, Tiling = tiling.AxisTiling, tiling.VideoTiling

    class Stop(Exception):
        pass

    given = []

    def render_chain(models, settings, *args, **kwargs):
        given.append(settings.tile)
        raise Stop

    monkeypatch.setattr(sys.modules[pack.__name__ + ".nodes.sampler"], "render_chain", render_chain)
    for tiles in ({}, {"tile_size": 512}, {"temporal_tile": 32}, {"tile_size": 1536, "temporal_tile": 96}):
        with pytest.raises(Stop):
            run_sampler(pack, demo, **tiles)
    assert given == [
        "auto",  # both 0: sized to the free memory when the chunk decodes
        Tiling(Axis(80, 24), Axis(512, 64), Axis(512, 64)),  # the other axis: the reference default's size
        Tiling(Axis(32, 16), Axis(768, 64), Axis(768, 64)),
        Tiling(Axis(96, 32), Axis(1536, 128), Axis(1536, 128)),
    ]
    with pytest.raises(ValueError, match="tile_size: 0 .automatic. or at least 96, got 64"):
        run_sampler(pack, demo, tile_size=64)
