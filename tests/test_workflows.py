"""Example workflows: the UI-format ones reference real nodes with the right widgets, and every API-format
one runs end to end through the node classes (as ComfyUI's executor would call them), rendering real MP4s on
the tiny reference checkpoints."""

import inspect
import json
import sys
from fractions import Fraction
from pathlib import Path

import av
import pytest
import torch
from test_pack import node_classes

EXAMPLES = Path(__file__).resolve().parents[1] / "example_workflows"
UI = sorted(EXAMPLES.glob("*.json"))
API = sorted((EXAMPLES / "api").glob("*.json"))

TINY_RUN = {"width": 64, "height": 64, "total_frames": 41, "seconds": 0.0, "clip_frames": 25, "tail_frames": 9}
"""What the test changes on the sampler nodes: a two-chunk chain at 64 x 64 instead of a minute at 768 x 512."""
TINY_CLIP = {"width": 64, "height": 64, "frames": 17}
"""And on the clip sampler: 17 frames at 64 x 64."""


def schemas(pack):
    return {s.node_id: (c, s) for c, s in ((c, c.GET_SCHEMA()) for c in node_classes(pack))}


def saved_widgets(schema) -> list[str]:
    """The names of a node's values in a UI workflow's ``widgets_values``, in order: its widget inputs, and
    "control" right after a seed (the frontend stores its "control after generate" mode as one more value)."""
    widgets = [i for i in schema.inputs if i.io_type in ("INT", "FLOAT", "STRING", "BOOLEAN", "COMBO")]
    return [v for i in widgets for v in ([i.id, "control"] if i.options.get("control_after_generate") else [i.id])]


def test_every_ui_workflow_has_an_api_twin():
    assert UI and {p.name for p in UI} == {p.name for p in API}


@pytest.mark.parametrize("path", UI, ids=lambda p: p.name)
def test_ui_workflow_matches_the_node_schemas(pack, path):
    known = schemas(pack)
    workflow = json.loads(path.read_text())
    assert workflow["version"] == 0.4
    for node in workflow["nodes"]:
        if not node["type"].startswith("LTX2Chain_"):
            continue
        _, schema = known[node["type"]]
        # a widget fed by a link keeps its place (and value) in widgets_values, as the frontend saves it
        widgets = saved_widgets(schema)
        sockets = {i["name"] for i in node.get("inputs", []) if "widget" not in i}
        assert sockets <= {i.id for i in schema.inputs if i.id not in widgets}, (node["type"], sockets)
        assert len(node["widgets_values"]) == len(widgets), (node["type"], widgets)
        for k, name in enumerate(widgets):
            if name == "control":
                assert node["widgets_values"][k] in ("fixed", "increment", "decrement", "randomize"), (node["type"], k)


def load_image_stand_in(image: str) -> tuple:
    """ComfyUI's core LoadImage, for ``example.png``: an IMAGE [1, H, W, 3] and its MASK."""
    assert image == "example.png"
    ramp = torch.linspace(0, 1, 80)
    picture = torch.stack([ramp.expand(48, 80), ramp.flip(0).expand(48, 80), torch.full((48, 80), 0.5)], dim=-1)
    return picture[None], torch.zeros(1, 48, 80)


MEDIA_FRAMES, MEDIA_FPS = TINY_RUN["total_frames"], 24
"""The stand-in media last as long as the tiny run: a sampler following them renders as many frames."""


def load_audio_stand_in(audio: str) -> tuple:
    """ComfyUI's core LoadAudio, for ``song.mp3``: 44.1 kHz stereo as long as MEDIA_FRAMES."""
    assert audio == "song.mp3"
    samples = -(-MEDIA_FRAMES * 44100 // MEDIA_FPS)  # every frame's sound, to the last sample
    return ({"waveform": 0.1 * torch.sin(torch.arange(samples) / 20.0).expand(1, 2, samples), "sample_rate": 44100},)


def load_video_stand_in(file: str) -> tuple:
    """ComfyUI's core LoadVideo, for ``source.mp4``: a VIDEO object (here, what Get Video Components returns of it)."""
    assert file == "source.mp4"
    frames = torch.linspace(0, 1, MEDIA_FRAMES).view(-1, 1, 1, 1).expand(MEDIA_FRAMES, 48, 80, 3).clone()
    sound = {"waveform": torch.zeros(1, 1, MEDIA_FRAMES * 48000 // MEDIA_FPS), "sample_rate": 48000}
    return ((frames, sound, float(MEDIA_FPS)),)


CORE_NODES = {"LoadImage": load_image_stand_in, "LoadAudio": load_audio_stand_in, "LoadVideo": load_video_stand_in,
              "GetVideoComponents": lambda video: video}  # fmt: skip


def run_api_workflow(pack, prompt: dict) -> dict:
    """Execute an API-format prompt with the pack's node classes: inputs are literals or [node, output]."""
    known = schemas(pack)
    holder = sys.modules[pack.__name__ + ".nodes.host"].io.HiddenHolder  # the node API in use (the stand-in here)
    results: dict[str, tuple] = {}

    def evaluate(node_id: str) -> tuple:
        if node_id not in results:
            spec = prompt[node_id]
            kwargs = {k: evaluate(v[0])[v[1]] if isinstance(v, list) else v for k, v in spec["inputs"].items()}
            if spec["class_type"] in CORE_NODES:
                results[node_id] = CORE_NODES[spec["class_type"]](**kwargs)
                return results[node_id]
            cls, _ = known[spec["class_type"]]
            if hasattr(cls, "validate_inputs"):  # like ComfyUI: only the inputs it declares, linked ones as None
                declared = inspect.signature(cls.validate_inputs).parameters
                wanted = {k: (None if isinstance(v, list) else v) for k, v in spec["inputs"].items() if k in declared}
                verdict = cls.validate_inputs(**wanted)
                assert verdict is True, verdict
            # like ComfyUI: each execution runs on a clone of the class carrying the hidden values
            clone = type(cls.__name__, (cls,), {"hidden": holder(unique_id=node_id)})
            results[node_id] = clone.execute(**kwargs).args
        return results[node_id]

    for node_id in prompt:
        evaluate(node_id)
    return results


def decode_mp4(path: Path) -> tuple[int, Fraction, bool]:
    """(frames, frame rate, has audio) of an MP4, decoded with PyAV."""
    with av.open(str(path)) as container:
        has_audio = bool(container.streams.audio)
        rate = container.streams.video[0].average_rate
        frames = sum(1 for _ in container.decode(video=0))
    return frames, rate, has_audio


@pytest.mark.parametrize("path", API, ids=lambda p: p.name)
def test_api_workflow_runs(pack, path, tiny_models):
    prompt = json.loads(path.read_text())
    samplers = [n for n, spec in prompt.items() if spec["class_type"] == "LTX2Chain_ChainSampler"]
    for node_id in samplers:
        prompt[node_id]["inputs"].update(TINY_RUN)
    for node_id, spec in prompt.items():
        if spec["class_type"] == "LTX2Chain_ClipSampler":
            spec["inputs"].update(TINY_CLIP)
    results = run_api_workflow(pack, prompt)
    assert set(results) == set(prompt)
    assert all(out for out in results.values())
    for node_id in samplers:
        video, images, audio, plan_json = results[node_id]
        assert video.is_file() and video.is_relative_to(tiny_models) and images is None and audio is None  # return_frames off
        assert decode_mp4(video) == (TINY_RUN["total_frames"], 24, True)
        assert json.loads(plan_json)["total_frames"] == TINY_RUN["total_frames"]
    for node_id in (n for n, spec in prompt.items() if spec["class_type"] == "LTX2Chain_SaveVideo"):
        (video,) = results[node_id]
        assert video.is_file() and video.is_relative_to(tiny_models)
        assert decode_mp4(video) == (TINY_CLIP["frames"], 24, "audio" in prompt[node_id]["inputs"])


def test_plan_preview_example_output(pack):
    prompt = json.loads((EXAMPLES / "api" / "ltx2chain_plan_preview.json").read_text())
    table, plan_json = run_api_workflow(pack, prompt)["1"]
    data = json.loads(plan_json)
    assert data["total_frames"] == 480  # 20 s at 24 fps
    prompts = [c["params"]["prompt"] for c in data["chunks"]]
    assert prompts[0].startswith("A red fox") and prompts[-1].startswith("The fox leaps")
