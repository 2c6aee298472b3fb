"""The editor and the progress panel rendered by headless Chromium: the real extension file on a fake
ComfyUI node (tests/web/harness.html), checked through the DOM it leaves and saved as a screenshot."""

import functools
import json
import os
import re
import shutil
import struct
import subprocess
import threading
import urllib.parse
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest
from web_tools import CHROMIUM_FLAGS, ROOT, WEB_TESTS, chromium

from ltx2.chain.plan import make_plan
from ltx2.chain.schedule import ChunkSchedule

SCHEDULE = {
    "prompt": "a lighthouse at dusk",
    "prompts": [{"chunk": 0, "text": "waves"}, {"seconds": 13.5, "text": "a storm rolls in"}],
    "negative_prompt": "blurry, text",
    "seed": [11, 12],
    "loras": [{"name": "film_grain", "keyframes": [{"chunk": 0, "scale": 0.0}, {"chunk": 4, "scale": 1.0}]}],
    "anchors": [{"chunk": 1, "image": "harbour.png"}, {"seconds": 17, "image": "night.png", "position": "last"}],
}
WIDGETS = {"total_frames": 481, "seconds": 0, "fps": 24, "clip_frames": 121, "tail_frames": 25}


class Handler(SimpleHTTPRequestHandler):
    """The repository, with ComfyUI's /scripts/app.js and /scripts/api.js answered by the fakes."""

    def translate_path(self, path):
        route = urllib.parse.urlparse(path).path
        if route.startswith("/scripts/"):
            return str(WEB_TESTS / "fake_comfy" / route.lstrip("/"))
        return super().translate_path(path)

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Handler, directory=str(ROOT)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def harness_url(server, drag):
    plan = make_plan(fps=24, clip_frames=121, tail_frames=25, total_frames=481)
    span = max(plan.total_frames, plan.chunks[-1].end)
    query = urllib.parse.urlencode({"schedule": json.dumps(SCHEDULE), "widgets": json.dumps(WIDGETS), "span": span, "drag": drag})
    return f"{server}/tests/web/harness.html?{query}"


def run_chromium(tmp_path, *args):
    profile = tmp_path / "profile"
    cmd = [chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", "--window-size=900,1100", "--virtual-time-budget=10000", *args]
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        pytest.fail(f"Chromium did not finish in 120 s: {' '.join(cmd)}")
    if done.returncode != 0:
        pytest.fail(f"Chromium failed ({done.returncode}); it cannot run here:\n{done.stderr[-4000:]}")
    shutil.rmtree(profile, ignore_errors=True)
    return done.stdout


@pytest.fixture(scope="module")
def rendered(server, tmp_path_factory):
    out = run_chromium(tmp_path_factory.mktemp("chromium"), "--dump-dom", harness_url(server, drag=169))
    found = re.search(r'<pre id="result"[^>]*>(.*?)</pre>', out, re.S)
    assert found and found.group(1), f"the harness wrote no result; Chromium printed:\n{out[:3000]}"
    return json.loads(found.group(1).replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"').replace("&amp;", "&"))


def test_no_script_errors(rendered):
    assert rendered["errors"] == []
    assert rendered["strayText"] == []  # e.g. a "null" from an empty section


def test_schedule_widget_hidden_but_serialised_and_editor_not_serialised(rendered):
    assert rendered["hidden"]["hidden"] is True and rendered["hidden"]["optionsHidden"] is True
    assert rendered["hidden"]["size"][1] <= 0
    assert rendered["hidden"].get("serialize") is not False and rendered["hidden"].get("optionsSerialize") is not False
    assert rendered["domWidgets"] == [{"name": "schedule_editor", "serialize": False}]
    assert rendered["samplerWidgets"] == [{"name": "chain_progress", "serialize": False}]


def test_chunks_laid_out_like_the_plan_with_their_overlaps(rendered):
    plan = make_plan(fps=24, clip_frames=121, tail_frames=25, total_frames=481)
    span = max(plan.total_frames, plan.chunks[-1].end)
    width = rendered["timelineWidth"]
    chunks = rendered["chunks"]
    assert [c["index"] for c in chunks] == [c.index for c in plan.chunks]
    for drawn, chunk in zip(chunks, plan.chunks):
        assert drawn["left"] == pytest.approx(chunk.start / span * width, abs=1.5)
        assert drawn["width"] == pytest.approx(chunk.frames / span * width, abs=1.5)
        assert drawn["overlap"] == pytest.approx(chunk.head_trim / span * width, abs=1.5)
    for a, b in zip(chunks, chunks[1:]):
        assert b["left"] < a["left"] + a["width"], "consecutive chunks overlap by the tail"
        assert a["top"] != b["top"], "overlapping chunks are drawn on alternating rows"


def test_edits_through_the_page_are_saved_and_python_reads_them(rendered):
    saved = ChunkSchedule.parse(rendered["savedSchedule"])
    plan = make_plan(fps=24, clip_frames=121, tail_frames=25, total_frames=481)
    # the drag to frame 169 snapped the chunk keyframe to the later of two equally near boundaries
    assert saved.prompts[0].chunk == 2
    assert [saved.resolve(i, plan).seed for i in range(5)] == [11, 12, 4242, 12, 12]
    assert saved.negative_prompt == rendered["negativePrompt"] == "blurry, text"
    assert rendered["tableRows"] == 5
    assert rendered["tablePrompts"] == [saved.resolve(i, plan).prompt for i in range(5)]
    assert [k["chunk"] for k in rendered["keys"]] == [2, 3]  # 13.5 s = frame 324, nearest boundary 313 (chunk 3)
    starts = [c["left"] for c in rendered["chunks"]]
    assert rendered["keys"][0]["center"] == pytest.approx(starts[2] + rendered["chunks"][2]["overlap"], abs=1.5)


def test_anchors_sit_on_their_chunks_first_or_last_frame(rendered):
    width, span = rendered["timelineWidth"], 481
    # chunk 1 first frame = 96; 17 s = frame 408 -> nearest boundary 409 = chunk 4, last frame 384 + 97 - 1
    assert [a["frame"] for a in rendered["anchors"]] == [96, 480]
    for a in rendered["anchors"]:
        assert a["center"] == pytest.approx(a["frame"] / span * width, abs=1.5)
    assert "harbour.png" in rendered["anchors"][0]["image"]


def test_progress_panel(rendered):
    text = rendered["progressText"]
    for line in ("Chunk 2 of 5", "Step 3 of 8", "Frames 121 of 481", "Speed 4.03 frames/s", "ETA 1:35"):
        assert line in text
    assert rendered["previewShown"]


def test_screenshot(server, tmp_path):
    keep = os.environ.get("LTX2_SCREENSHOT_DIR")
    target = (tmp_path if not keep else __import__("pathlib").Path(keep)) / "timeline_editor.png"
    target.parent.mkdir(parents=True, exist_ok=True)
    run_chromium(tmp_path, f"--screenshot={target}", harness_url(server, drag=""))
    data = target.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (900, 1100)
    assert len(data) > 20_000, "the screenshot is nearly empty"
