"""examples/queue_workflow.py against a stand-in ComfyUI server (HTTP only: the polling path)."""

import importlib.util
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "examples" / "queue_workflow.py"


def load_script():
    spec = importlib.util.spec_from_file_location("queue_workflow", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def server():
    received = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def reply(self, status, data):
            body = json.dumps(data).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            received.append(body)
            if body["prompt"]["2"]["inputs"].get("seconds", 0) < 0:
                self.reply(400, {"error": "invalid prompt", "node_errors": {"2": {"errors": [{"message": "seconds below 0"}]}}})
            else:
                self.reply(200, {"prompt_id": "p-1", "number": 0, "node_errors": {}})

        def do_GET(self):
            assert self.path == "/history/p-1"
            outputs = {"2": {"images": [{"filename": "chain_00001_.mp4", "subfolder": "ltx2chain", "type": "output"}], "animated": [True]}}
            self.reply(200, {"p-1": {"status": {"completed": True, "status_str": "success"}, "outputs": outputs}})

    httpd = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"127.0.0.1:{httpd.server_port}", received
    httpd.shutdown()


def test_queues_with_a_client_id_and_reports_the_mp4(server, capsys, monkeypatch):
    address, received = server
    monkeypatch.setitem(sys.modules, "websocket", None)  # no websocket-client: poll /history
    workflow = Path(__file__).resolve().parents[1] / "example_workflows/api/ltx2chain_text_to_video_long.json"
    status = load_script().main([str(workflow), "--server", address, "--set", "2.seconds=30", "--set", "2.filename_prefix=short/run"])
    assert status == 0
    ((body,),) = [received]
    assert body["client_id"] and body["prompt"]["2"]["inputs"]["seconds"] == 30 and body["prompt"]["2"]["inputs"]["filename_prefix"] == "short/run"
    out = capsys.readouterr().out
    assert "queued p-1" in out and f"http://{address}/view?filename=chain_00001_.mp4&subfolder=ltx2chain&type=output" in out


def test_refused_workflow_shows_the_node_errors(server, monkeypatch):
    address, _ = server
    monkeypatch.setitem(sys.modules, "websocket", None)
    workflow = Path(__file__).resolve().parents[1] / "example_workflows/api/ltx2chain_text_to_video_long.json"
    with pytest.raises(SystemExit, match="seconds below 0"):
        load_script().main([str(workflow), "--server", address, "--set", "2.seconds=-1"])
    with pytest.raises(SystemExit, match="expected NODE.INPUT=VALUE"):
        load_script().main([str(workflow), "--server", address, "--set", "9.seconds=1"])


def test_progress_lines():
    describe = load_script().describe
    assert describe({"event": "chain_start", "chunks": 3, "total_frames": 241, "frame_rate": 24.0}) == "chain: 3 chunks, 241 frames at 24 fps"
    warned = {"event": "chain_start", "chunks": 1, "total_frames": 60, "frame_rate": 24.0, "warnings": ["prompts[0]: 20 s is past the end"]}
    assert describe(warned) == "chain: 1 chunks, 60 frames at 24 fps\n  warning: prompts[0]: 20 s is past the end"
    assert describe({"event": "denoise_step", "step": 2, "steps": 8, "eta_seconds": 41.4}) == "  step 2/8, about 41 s left"
    assert describe({"event": "error", "cancelled": True, "message": ""}) == "chain stopped: cancelled"


def test_every_payload_the_engine_sends_reads_as_a_line():
    """The payloads as the tracker makes them (speed and ETA still unknown at the start): none crashes the script."""
    from ltx2.chain.events import ChainFailed, ChainFinished, ChainStarted, ChunkFinished, ChunkStarted, DenoiseStep
    from ltx2.chain.progress import ProgressTracker

    describe, track = load_script().describe, ProgressTracker()
    events = [ChainStarted(2, 41, 24.0), ChunkStarted(0, 2, False, "a fox"), DenoiseStep(0, 2, 1, 8), ChunkFinished(0, 2, False, 25, 41, 1.0),
              ChunkStarted(1, 2, True, "a fox"), ChunkFinished(1, 2, True, 41, 41, 0.1), ChainFinished(2, 41, 1, 2.0), ChainFailed(1, True, "")]  # fmt: skip
    lines = [describe(track(event)) for event in events]
    assert lines[0] == "chain: 2 chunks, 41 frames at 24 fps" and lines[4] == "chunk 2/2 (resumed)" and lines[-1] == "chain stopped: cancelled"
