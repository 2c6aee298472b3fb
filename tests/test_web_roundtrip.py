"""Schedules edited through the web editor's model (Node, in a subprocess) against the Python engine:
the JSON the editor saves parses in Python, saves and reloads unchanged, and Python resolves the same
per-chunk parameters, warnings and plan the editor displays."""

import json

import pytest
from web_tools import WEB_TESTS, run_node

from ltx2.chain.plan import make_plan
from ltx2.chain.schedule import ChunkSchedule

DEFAULT_WIDGETS = {"total_frames": 481, "seconds": 0, "fps": 24, "clip_frames": 121, "tail_frames": 25}

CASES = [
    # (schedule as stored, plan widgets, edits made in the editor)
    ("", {}, [["addPromptKeyframe", 200, "a storm rolls in", "chunk"], ["setField", "prompt", "calm sea"]]),
    (
        json.dumps({"prompt": "a", "prompts": [{"seconds": 8.5, "text": "b"}, {"frame": 300, "text": "c"}]}),
        {},
        [["movePromptKeyframe", 0, 169], ["setPromptKeyframePlace", 1, "seconds"], ["addPromptKeyframe", 450, "d", "seconds"]],
    ),
    (
        json.dumps({"seed": [5, 9], "seed_mode": "increment", "negative_prompt": "blur"}),
        {"total_frames": 1000, "clip_frames": 97, "tail_frames": 17},
        [["setChunkValue", "seed", 6, 1234], ["setChunkValue", "handoff_strength", 2, 0.7], ["setChunkValue", "denoise", 1, 0.9]],
    ),
    (
        json.dumps({"loras": [{"name": "style", "keyframes": [{"chunk": 0, "scale": 0.2}, {"seconds": 13.3, "scale": 0.9}]}]}),
        {"seconds": 30, "fps": 23.976},
        [["addLora", "detail"], ["setLoraScaleAt", 1, 3, 0.4], ["setLoraScaleAt", 0, 5, -0.25], ["setLoraForm", 1, "keyframes"]],
    ),
    (
        json.dumps(
            {
                "anchors": [{"seconds": 5, "image": "a.png"}, {"chunk": 2, "image": "b.png", "position": "last", "strength": 0.5}],
                "prompts": [{"seconds": 400, "text": "past the end"}, {"chunk": 9, "text": "no such chunk"}],
                "guidance": [3, 4.5],
                "tail_noise": 0.05,
            }
        ),
        {"total_frames": 600, "fps": 30},
        [
            ["setField", "seed_mode", "increment"],
            ["setChunkValue", "seed", 0, 42],
            ["removeAnchor", 0],
            ["addAnchor", 2, "last", "c.png"],
            ["addAnchor", 0, "first", "d.png"],
            ["setGuidanceAt", 3, 6.5],
            ["setChunkValue", "audio_strength", 1, 0.6],
        ],
    ),
    ("", {}, [["setGuidanceAt", 2, 4.0], ["setGuidanceAt", 3, 7.0], ["setChunkValue", "denoise", 4, 0.5], ["addAnchor", 1, "last", "e.png"]]),
    (json.dumps({"guidance": [3, 4]}), {}, [["setGuidanceAt", 0, None]]),
    ("", {"seconds": 61.7, "fps": 29.97, "clip_frames": 161, "tail_frames": 33}, [["addPromptKeyframe", 777, "x", "frame"], ["addPromptKeyframe", 1200, "y", "seconds"], ["addLora", "l"], ["setLoraForm", 0, "keyframes"], ["setLoraScaleAt", 0, 8, 2.5]]),
]


def python_plan(widgets: dict):
    w = {**DEFAULT_WIDGETS, **widgets}
    seconds = w["seconds"]
    return make_plan(
        fps=float(w["fps"]),  # the node widget is a FLOAT
        clip_frames=w["clip_frames"],
        tail_frames=w["tail_frames"],
        total_frames=None if seconds > 0 else w["total_frames"],
        seconds=seconds if seconds > 0 else None,
    )


@pytest.fixture(scope="module")
def edited():
    payload = {"cases": [{"schedule": s, "plan": p, "edits": e} for s, p, e in CASES]}
    return json.loads(run_node(WEB_TESTS / "model_cli.mjs", payload).stdout)


def test_saved_schedule_reloads_identically(edited):
    saved = []
    for answer in edited:
        schedule = ChunkSchedule.parse(answer["json"])  # Python accepts what the editor wrote
        again = schedule.to_json()
        assert ChunkSchedule.parse(again) == schedule
        assert json.loads(again) == json.loads(answer["json"])  # same sparse content (1 and 1.0 compare equal)
        saved.append(again)
    reloaded = json.loads(run_node(WEB_TESTS / "model_cli.mjs", {"reload": saved}).stdout)
    assert reloaded == [a["json"] for a in edited]  # the editor writes back exactly what it wrote before


def test_python_resolves_what_the_editor_displays(edited):
    for (stored, widgets, edits), answer in zip(CASES, edited):
        plan = python_plan(widgets)
        assert answer["plan"] == plan.to_dict()
        schedule = ChunkSchedule.parse(answer["json"])
        expected = [schedule.resolve(c.index, plan).to_dict() for c in plan.chunks]
        # anchors come back as lists of dicts from JSON; compare in the same form
        assert answer["params"] == json.loads(json.dumps(expected)), f"{stored} + {edits}"
        assert answer["warnings"] == schedule.check(plan)


def test_the_edits_did_something(edited):
    # guards the comparisons above against an editor that ignores its edits
    assert json.loads(edited[0]["json"]) == {"prompt": "calm sea", "prompts": [{"chunk": 2, "text": "a storm rolls in"}]}
    params = edited[1]["params"]
    assert [p["prompt"] for p in params] == ["a", "a", "b", "c", "d"]
    assert [p["seed"] for p in edited[2]["params"]][5:9] == [13, 1234, 15, 16]  # only chunk 6 changes
    assert any(w.startswith("prompts[0]: 400 s is past the end") for w in edited[4]["warnings"])
    anchors = json.loads(edited[4]["json"])["anchors"]
    assert anchors == [{"chunk": 2, "image": "c.png", "position": "last", "strength": 0.5}, {"chunk": 0, "image": "d.png"}]
    assert [p["guidance"] for p in edited[4]["params"]] == [3, 4.5, 4.5, 6.5, 4.5, 4.5]
    assert [p["audio_strength"] for p in edited[4]["params"]] == [1, 0.6, 1, 1, 1, 1]
    # a first scale on a default schedule sets every chunk; later ones their chunk
    assert json.loads(edited[5]["json"]) == {"denoise": [1, 1, 1, 1, 0.5, 1], "guidance": [4, 4, 4, 7, 4], "anchors": [{"chunk": 1, "image": "e.png", "position": "last"}]}
    assert json.loads(edited[6]["json"]) == {}
