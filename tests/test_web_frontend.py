"""The pack's web extension in the real ComfyUI frontend: the frontend of the PyPI package
``comfyui-frontend-package`` (what ComfyUI ships) is served by tests/frontend_server.py from the pack's own node
definitions and driven in headless Chromium by tests/web/frontend_driver.mjs (playwright-core). Every example
workflow is loaded; the editor and progress panel are measured on their nodes; a keyboard edit must reach the
workflow's schedule widget and the API prompt; a stand-in run's progress events come through the websocket.

Screenshots go to LTX2_SCREENSHOT_DIR when set (else a temporary folder). LTX2_FRONTEND_DIR points at another
frontend build's static folder (an unpacked wheel's ``comfyui_frontend_package/static``) to try other versions.
"""

import json
import os
from pathlib import Path

import av
import numpy as np
import pytest
from frontend_server import INPUT_IMAGES, OUTPUT_VIDEO, PAUSE, RESUMED, FrontendServer, frontend_dir, frontend_version
from test_pack import node_classes
from test_workflows import saved_widgets
from web_tools import CHROMIUM_FLAGS, ROOT, WEB_TESTS, chromium, node_modules, run_node

from ltx2.chain.plan import make_plan
from ltx2.chain.schedule import ChunkSchedule

EXAMPLES = sorted((ROOT / "example_workflows").glob("*.json"))
EDIT = {"workflow": "ltx2chain_text_to_video_long", "node": 2, "chunk": 2, "seed": 4242}
SLACK = 1.5  # px: rounding of the frontend's own placement


def small_mp4(path: Path) -> bytes:
    """A real H.264 MP4 (24 frames of 256 x 160 at 24 fps): the video the stand-in run outputs."""
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=24)
        stream.width, stream.height, stream.pix_fmt = 256, 160, "yuv420p"
        for k in range(24):
            frame = np.zeros((160, 256, 3), np.uint8)
            frame[:, : 10 * k + 10] = (40, 110, 190)
            out.mux(stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")))
        out.mux(stream.encode())
    return path.read_bytes()


@pytest.fixture(scope="module")
def frontend(pack, tmp_path_factory):
    try:
        static = frontend_dir()
    except ImportError:
        pytest.fail('the ComfyUI frontend is not installed: pip install -e ".[test]" (comfyui-frontend-package)')
    node_modules()
    if not (WEB_TESTS / "node_modules" / "playwright-core").is_dir():
        pytest.fail(f"playwright-core is not installed: run `npm ci` in {WEB_TESTS} (see .ci/run)")
    shots = Path(os.environ.get("LTX2_SCREENSHOT_DIR") or tmp_path_factory.mktemp("frontend"))
    shots.mkdir(parents=True, exist_ok=True)
    server = FrontendServer(node_classes(pack), static, outputs={OUTPUT_VIDEO: small_mp4(shots / "run_output.mp4")}).start()
    request = {
        "url": server.url, "chromium": chromium(), "flags": [f for f in CHROMIUM_FLAGS if f != "--headless"], "shots": str(shots),
        "workflows": {p.stem: json.loads(p.read_text()) for p in EXAMPLES}, "edit": EDIT,
    }  # fmt: skip
    try:
        done = run_node(WEB_TESTS / "frontend_driver.mjs", request, timeout=240)
    finally:
        server.shutdown()
    result = json.loads(done.stdout)
    result.update(shots=shots, sent=server.sent, prompts=server.prompts, version=frontend_version(static))
    return result


def test_frontend_loads_the_pack_without_errors(frontend):
    assert frontend["errors"] == [], f"frontend {frontend['version']}"
    assert set(frontend["workflows"]) == {p.stem for p in EXAMPLES}


def ours(frontend):
    for name, nodes in frontend["workflows"].items():
        for node_id, node in nodes.items():
            yield f"{name} #{node_id} {node['type']}", node


def test_editors_and_panels_are_on_every_node_that_has_them(frontend):
    found = {label.split(" #")[0]: node for label, node in ours(frontend)}
    for path in EXAMPLES:
        types = {n["type"] for n in json.loads(path.read_text())["nodes"]}
        if types & {"LTX2Chain_ChainSampler", "LTX2Chain_Schedule", "LTX2Chain_PlanPreview"}:
            assert path.stem in found, path.stem
    for label, node in ours(frontend):
        for part in ("editor", "progress"):
            if part in node:
                assert node[part]["visible"], label


def test_the_timeline_is_tall_and_shows_the_chunks(frontend):
    for label, node in ours(frontend):
        if "timeline" in node:
            assert node["timeline"]["height"] >= 60, label  # in CSS pixels, before the canvas zoom
            assert node["timeline"]["chunks"] == node["editorState"]["chunks"] >= 1, label
            assert node["timeline"]["width"] >= 200, label


def test_nothing_of_ours_is_drawn_outside_its_node(frontend):
    for label, node in ours(frontend):
        outer = node["node"]
        for part in ("editor", "progress", "plan"):
            if part not in node or not node[part]["visible"]:
                continue
            box = node[part]["box"]
            assert box["left"] >= outer["left"] - SLACK and box["right"] <= outer["right"] + SLACK, (label, part, box, outer)
            assert box["top"] >= outer["top"] - SLACK and box["bottom"] <= outer["bottom"] + SLACK, (label, part, box, outer)


def test_editors_and_panels_show_everything_without_scrolling(frontend):
    for label, node in ours(frontend):
        if "progress" in node:
            assert node["progress"]["scrollHeight"] <= node["progress"]["clientHeight"] + 1, label
        if "editor" in node and node["editor"]["clientHeight"] < 900:  # taller editors scroll (chunk tables of long chains)
            assert node["editor"]["scrollHeight"] <= node["editor"]["clientHeight"] + 1, label


def test_no_stray_text(frontend):
    for label, node in ours(frontend):
        for part in ("editor", "progress", "plan"):
            if part in node:
                assert node[part]["stray"] == [], (label, part)


def test_a_linked_schedule_wins_on_the_sampler_and_the_schedule_node_plans_from_it(frontend):
    nodes = frontend["workflows"]["ltx2chain_lora_ramp"]
    sampler, schedule = nodes["5"], nodes["3"]
    assert sampler["editorState"]["linked"] and "linked schedule wins" in sampler["notice"]
    assert sampler["editor"]["text"].count("\n") < 40, "read-only: the plan and the notice, no editing sections"
    workflow = json.loads((ROOT / "example_workflows" / "ltx2chain_lora_ramp.json").read_text())
    values = next(n for n in workflow["nodes"] if n["id"] == 5)["widgets_values"]
    total_frames, seconds, fps, clip, tail = values[1:6]
    plan = make_plan(fps=fps, clip_frames=clip, tail_frames=tail, total_frames=None if seconds else total_frames, seconds=seconds or None)
    assert schedule["editorState"]["chunks"] == len(plan.chunks)
    assert "planned from Chain Sampler: 30 s, camera push-in fades in (#5)" in schedule["summary"], schedule["summary"]
    assert not frontend["workflows"]["ltx2chain_text_to_video_long"]["2"]["editorState"]["linked"]


def test_a_schedule_node_that_feeds_no_sampler_says_it_plans_with_default_lengths(frontend):
    schedule = frontend["fresh"]["schedule"]
    assert "planned with the default lengths" in schedule["summary"], schedule["summary"]
    assert schedule["editorState"]["chunks"] == len(make_plan(fps=24, clip_frames=121, tail_frames=25, total_frames=481).chunks)


def test_new_nodes_at_their_default_size(frontend):
    for name, node in frontend["fresh"].items():
        assert node["timeline"]["height"] >= 60 and node["timeline"]["chunks"] >= 1, name
        for part in ("editor", "progress"):
            if part in node:
                box, outer = node[part]["box"], node["node"]
                assert outer["top"] - SLACK <= box["top"] and box["bottom"] <= outer["bottom"] + SLACK, (name, part)
                assert node[part]["scrollHeight"] <= node[part]["clientHeight"] + 1, (name, part)
                assert node[part]["stray"] == [], (name, part)


def test_a_keyboard_edit_reaches_the_workflow_and_the_api_prompt(frontend):
    edit = frontend["edit"]
    assert edit["widget"] == edit["prompt"], "the API prompt carries the schedule widget's value"
    saved = ChunkSchedule.parse(edit["widget"])
    plan = make_plan(fps=24, clip_frames=121, tail_frames=25, seconds=60)
    assert saved.resolve(EDIT["chunk"], plan).seed == EDIT["seed"], "Enter commits the seed"
    assert saved.resolve(EDIT["chunk"], plan).handoff_strength != 0.123, "Escape cancels the handoff edit"
    assert edit["handoffShown"] != "0.123"
    queued = frontend["prompts"][-1]["prompt"][str(EDIT["node"])]["inputs"]["schedule"]
    assert queued == frontend["features"]["removed"] == frontend["features"]["prompt"], "the queued prompt carries the edits"


PLAN_60S = make_plan(fps=24, clip_frames=121, tail_frames=25, seconds=60)


def test_the_ruler_shows_seconds_above_the_chunks(frontend):
    ruler = frontend["features"]["ruler"]
    texts = [label["text"] for label in ruler["labels"]]
    assert texts == ["0:00", "0:10", "0:20", "0:30", "0:40", "0:50", "1:00"], texts  # a minute on about 530 px
    assert ruler["ticks"] > len(texts), "unlabelled ticks between the labels"
    for label in ruler["labels"]:
        assert -SLACK <= label["left"] and label["right"] <= ruler["width"] + SLACK, label
        assert label["bottom"] <= 20, "the labels sit in the ruler, above the chunk bars"
    for a, b in zip(ruler["labels"], ruler["labels"][1:]):
        assert a["right"] < b["left"], "labels do not overlap"


def test_a_keyframe_dragged_along_the_ruler(frontend):
    features = frontend["features"]
    moved = ChunkSchedule.parse(features["dragged"]).prompts[0]
    assert moved.seconds == pytest.approx(20, abs=0.3), moved
    assert features["dragLabel"] and features["dragLabel"].startswith("0:2"), "the time under the pointer shows on the ruler"


def test_per_chunk_guidance_and_undo(frontend):
    features = frontend["features"]
    guidance = [ChunkSchedule.parse(features["guidance"]).resolve(c.index, PLAN_60S).guidance for c in PLAN_60S.chunks]
    assert guidance == [4.5] * len(PLAN_60S.chunks), "a first scale sets every chunk (none stays on the default)"
    before = ChunkSchedule.parse(features["beforeUndo"]).resolve(4, PLAN_60S).guidance
    assert before == 9
    assert features["undoKey"] == features["guidance"], "Ctrl+Z restores the schedule before the last edit"
    assert features["undoButton"] == features["guidance"], "the Undo button restores the schedule before the last edit"


def test_more_columns_denoise_per_chunk(frontend):
    features = frontend["features"]
    assert "denoise" not in features["columnsBefore"] and "guidance" in features["columnsBefore"], "defaults stay out of the table"
    denoise = [ChunkSchedule.parse(features["denoise"]).resolve(c.index, PLAN_60S).denoise for c in PLAN_60S.chunks]
    assert denoise == [1, 1, 0.6] + [1] * (len(PLAN_60S.chunks) - 3), "the edit changes chunk 2 only"
    assert "denoise" in features["columnsAfter"] and "sound" not in features["columnsAfter"], "a set column stays shown"


def test_anchors_from_the_input_folder_picker(frontend):
    features = frontend["features"]
    assert [i["name"] for i in features["picker"]["images"]] == list(INPUT_IMAGES)
    assert all(i["loaded"] for i in features["picker"]["images"]), "thumbnails from /view?type=input"
    anchors = ChunkSchedule.parse(features["anchor"]).anchors
    assert [(a.chunk, a.position, a.image) for a in anchors] == [(3, "last", "harbour.png")]
    assert [a.strength for a in anchors] == [1]
    assert [a.strength for a in ChunkSchedule.parse(features["strength"]).anchors] == [0.6], "a strength typed and saved with Enter"
    two = ChunkSchedule.parse(features["twoAnchors"]).anchors
    assert [(a.chunk, a.position, a.image, a.strength) for a in two] == [(3, "last", "harbour.png", 0.6), (1, "first", "night.png", 1)]
    assert features["removed"] == features["strength"], "the remove button takes the anchor out"
    shown = features["anchorShown"]
    assert len(shown["rows"]) == 1 and "harbour.png" in shown["rows"][0]["text"] and shown["rows"][0]["loaded"]
    assert shown["onTimeline"] == shown["onRuler"] == 1
    assert features["prompt"] == features["removed"], "the API prompt carries the edited schedule"


def test_the_editor_after_its_tools_were_used_stays_inside_its_node(frontend):
    measured = frontend["features"]["measured"]
    outer = measured["node"]
    for part in ("editor", "progress"):
        box = measured[part]["box"]
        assert box["left"] >= outer["left"] - SLACK and box["right"] <= outer["right"] + SLACK, (part, box, outer)
        assert box["top"] >= outer["top"] - SLACK and box["bottom"] <= outer["bottom"] + SLACK, (part, box, outer)
        assert measured[part]["stray"] == [], part


def test_the_progress_panel_during_a_run(frontend):
    run = frontend["run"]
    text = run["progress"]["text"]
    paused = next(p for p in frontend["sent"] if all(p.get(k) == v for k, v in PAUSE.items()))
    resumed = ", ".join(str(k + 1) for k in range(RESUMED))
    for line in ("Chunk 2 of 5", "Step 3 of 8", "Frames 121 of 481", "ETA ", f"Resumed (from the last run): chunk {resumed}", "chunk 1 of 5, last finished"):
        assert line in text, text
    if paused.get("render_speed") is not None:
        assert f"Speed {paused['render_speed']:.2f} frames/s" in text, text
    assert run["progress"]["stray"] == []
    assert run["progress"]["scrollHeight"] <= run["progress"]["clientHeight"] + 1
    box, outer = run["progress"]["box"], run["node"]
    assert outer["top"] - SLACK <= box["top"] and box["bottom"] <= outer["bottom"] + SLACK


def test_the_video_preview_after_a_run_sits_inside_the_node(frontend):
    done = frontend["done"]
    assert "preview" in done and done["preview"]["visible"], "the frontend previews the MP4 the run output"
    assert "video" in done["preview"]["html"] and OUTPUT_VIDEO.split("/")[1] in done["preview"]["html"]
    box, outer, panel = done["preview"]["box"], done["node"], done["progress"]["box"]
    assert box["height"] > 50, box
    assert outer["left"] - SLACK <= box["left"] and box["right"] <= outer["right"] + SLACK, (box, outer)
    assert outer["top"] - SLACK <= box["top"] and box["bottom"] <= outer["bottom"] + SLACK, (box, outer)
    assert box["top"] >= panel["bottom"] - SLACK, "under the progress panel, not over it"


SAMPLER_EVERYDAY = ["total_frames", "seconds", "fps", "clip_frames", "tail_frames", "width", "height", "filename_prefix"]


def test_the_sampler_shows_its_everyday_inputs_and_folds_the_rest(frontend, pack):
    schema = next(c.GET_SCHEMA() for c in node_classes(pack) if c.GET_SCHEMA().node_id == "LTX2Chain_ChainSampler")
    advanced = [i.id for i in schema.inputs if i.id in saved_widgets(schema) and i.options.get("advanced")]
    assert len(advanced) >= 12
    face = frontend["face"]
    assert face["folded"]["face"]["shown"] == [*SAMPLER_EVERYDAY, "ltx2_advanced"]
    assert face["folded"]["face"]["toggle"] == f"▸ advanced settings ({len(advanced)})"
    opened = face["opened"]
    assert set(opened["face"]["shown"]) == {*SAMPLER_EVERYDAY, *advanced, "ltx2_advanced"}, "the mouse click on the toggle unfolds them"
    assert opened["face"]["toggle"] == "▾ hide advanced settings"
    assert opened["size"][1] > face["folded"]["size"][1] + 12 * 18, "the node grew to show them"
    refolded = face["refolded"]
    assert refolded["face"]["shown"] == face["folded"]["face"]["shown"] and refolded["size"][1] == pytest.approx(face["folded"]["size"][1], abs=2)
    for state in (face["folded"], opened, refolded):
        for part in ("editor", "progress"):
            box, outer = state[part]["box"], state["node"]
            assert outer["top"] - SLACK <= box["top"] and box["bottom"] <= outer["bottom"] + SLACK, part


def test_saved_workflows_load_every_value_in_its_place(frontend, pack):
    """The toggle is not serialised: each saved value reaches the same input in the API prompt, folded or not."""
    known = {s.node_id: s for s in (c.GET_SCHEMA() for c in node_classes(pack))}
    checked = 0
    for path in EXAMPLES:
        prompt = frontend["loadedPrompts"][path.stem]
        for node in json.loads(path.read_text())["nodes"]:
            if node["type"] not in known or node.get("mode", 0) != 0:
                continue
            schema = known[node["type"]]
            inputs = prompt[str(node["id"])]["inputs"]
            for name, value in zip(saved_widgets(schema), node["widgets_values"]):
                if name != "control" and not isinstance(inputs.get(name), list):  # a linked widget sends its link
                    assert inputs[name] == value, (path.stem, node["type"], name)
                    checked += 1
    assert checked > 100


def test_changed_advanced_settings_and_unused_lengths_are_shown(frontend):
    long = frontend["workflows"]["ltx2chain_text_to_video_long"]["2"]["face"]
    assert long["toggle"].startswith("▸ advanced settings (") and "changed: keep_partial" in long["toggle"], long["toggle"]
    assert long["disabled"] == ["total_frames"], "seconds is set: total_frames does not count"
    music = frontend["workflows"]["ltx2chain_music_video"]
    sampler = next(n for n in music.values() if n["type"] == "LTX2Chain_ChainSampler")
    assert set(sampler["face"]["disabled"]) == {"total_frames", "seconds"}, "the soundtrack sets the length"
    assert frontend["face"]["folded"]["face"]["disabled"] == []


def test_the_nodes_2_renderer_shows_the_editor_and_folds_the_advanced_inputs_itself(frontend):
    vue = frontend["vue"]
    assert vue["nodeText"] is not None, "the sampler is drawn as a Vue node"
    assert vue["editor"]["visible"] and vue["timeline"]["height"] >= 60 and vue["timeline"]["chunks"] == 15
    lines = vue["nodeText"].splitlines()
    assert "total_frames (seconds wins)" in lines and "filename_prefix" in lines
    assert not any("advanced settings (" in line for line in lines), "no fold of ours on Nodes 2.0"
    # the frontend's own fold of advanced inputs on Vue nodes is in 1.45 (1.41.8's experimental Nodes 2.0 lists them)
    folds = tuple(int(p) for p in frontend["version"].split(".")[:2]) >= (1, 45)
    assert ({"drift", "steps", "handoff"} <= set(lines)) != folds, frontend["version"]
    outer, box = vue["node"], vue["editor"]["box"]
    assert outer["top"] - SLACK <= box["top"] and box["bottom"] <= outer["bottom"] + SLACK


def test_screenshots_were_written(frontend):
    for name in [*(p.stem for p in EXAMPLES), "new_nodes", "advanced_open", "editor_features", "anchor_picker", "run", "run_done", "nodes_2"]:
        data = (frontend["shots"] / f"{name}.png").read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000, name

