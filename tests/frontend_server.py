"""A stand-in ComfyUI server for browser tests: it serves the real ComfyUI frontend (the PyPI package
``comfyui-frontend-package``, the build ComfyUI ships) and answers the API calls that frontend makes, from the
pack's own node definitions. Only the Python standard library: an HTTP server with a minimal websocket.

- ``/object_info``: the pack's V3 schemas turned into ComfyUI's v1 node definitions (what ComfyUI's own
  ``comfy_api`` does for V3 nodes), plus the few core nodes the example workflows use.
- ``/extensions``: the pack's web files, served under ``/extensions/ltx2-chain/``.
- ``/ws``: the websocket; ``POST /prompt`` records the prompt and plays a stand-in chain run to every socket: the
  engine's own events through the engine's own ``ProgressTracker``, as ``nodes/host.py`` sends them.
- ``/view?type=input``: a small PNG for each image the Load Image node lists (INPUT_IMAGES), the thumbnails of the
  editor's anchor picker; ``/view?type=output``: the files given as ``outputs`` (the run's MP4 the frontend previews).
- settings, users, userdata, system stats, queue, history, embeddings and the rest: empty answers.

Run it by hand to look around: ``python tests/frontend_server.py [port]``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import mimetypes
import os
import struct
import sys
import threading
import urllib.parse
import uuid
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACK_KEY = "ltx2-chain"
"""The pack's folder name in custom_nodes: its web files are served under /extensions/<PACK_KEY>/."""
WS_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

INPUT_IMAGES = {"example.png": (200, 120, 60), "harbour.png": (40, 110, 190), "night.png": (30, 30, 70), "stills/dawn.png": (230, 180, 90)}
"""The stand-in input folder: image name -> its colour."""
OUTPUT_VIDEO = "ltx2chain/chain_00001_.mp4"
"""The video a stand-in run outputs (as the Chain Sampler's ``ui`` names it), served when given in ``outputs``."""

CORE_NODES = {
    "LoadImage": ({"image": [list(INPUT_IMAGES), {"image_upload": True}]}, ["IMAGE", "MASK"], "image"),
    "LoadAudio": ({"audio": [["song.mp3"], {"audio_upload": True}]}, ["AUDIO"], "audio"),
    "LoadVideo": ({"file": [["source.mp4"], {"video_upload": True}]}, ["VIDEO"], "image/video"),
    "GetVideoComponents": ({"video": ["VIDEO", {}]}, ["IMAGE", "AUDIO", "FLOAT"], "image/video"),
}
"""Core nodes the example workflows use: (required inputs, outputs, category), as ComfyUI defines them."""
CORE_OUTPUT_NAMES = {"GetVideoComponents": ["images", "audio", "fps"]}


def frontend_dir() -> Path:
    """The frontend's static folder: LTX2_FRONTEND_DIR, else the installed ``comfyui_frontend_package``."""
    if os.environ.get("LTX2_FRONTEND_DIR"):
        return Path(os.environ["LTX2_FRONTEND_DIR"])
    import comfyui_frontend_package

    return Path(comfyui_frontend_package.__file__).parent / "static"


def frontend_version(static: Path) -> str:
    """The version of the frontend in `static` (its package metadata, or the folder name)."""
    for info in static.parent.parent.glob("comfyui_frontend_package-*info"):
        return info.name.split("-")[1].removesuffix(".dist")
    return static.parent.name


def _input_def(spec) -> list:
    options = {k: v for k, v in spec.options.items() if v is not None}
    if spec.tooltip:
        options["tooltip"] = spec.tooltip
    if spec.display_name:
        options["display_name"] = spec.display_name
    if spec.io_type == "COMBO":
        choices = options.pop("options")
        return [[c.value if hasattr(c, "value") else c for c in choices], options]
    return [spec.io_type, options]


def node_definition(schema) -> dict:
    """ComfyUI's v1 definition (one /object_info entry) of a V3 schema."""
    required = {i.id: _input_def(i) for i in schema.inputs if not i.optional}
    optional = {i.id: _input_def(i) for i in schema.inputs if i.optional}
    hidden = {h.name: h.value for h in schema.hidden}
    if schema.is_output_node:
        hidden.update(prompt="PROMPT", extra_pnginfo="EXTRA_PNGINFO")
    return {
        "input": {"required": required, "optional": optional, **({"hidden": hidden} if hidden else {})},
        "input_order": {"required": list(required), "optional": list(optional)},
        "output": [o.io_type for o in schema.outputs],
        "output_is_list": [o.is_output_list for o in schema.outputs],
        "output_name": [o.display_name or o.id or o.io_type for o in schema.outputs],
        "output_tooltips": [o.tooltip for o in schema.outputs],
        "name": schema.node_id,
        "display_name": schema.display_name or schema.node_id,
        "description": schema.description,
        "python_module": f"custom_nodes.{PACK_KEY}",
        "category": schema.category,
        "output_node": schema.is_output_node,
        "deprecated": schema.is_deprecated,
        "experimental": schema.is_experimental,
        "api_node": False,
    }


def object_info(node_classes) -> dict:
    info = {}
    for name, (required, outputs, category) in CORE_NODES.items():
        info[name] = {
            "input": {"required": required}, "input_order": {"required": list(required)}, "output": outputs,
            "output_is_list": [False] * len(outputs), "output_name": CORE_OUTPUT_NAMES.get(name, outputs),
            "name": name, "display_name": name, "description": "", "python_module": "nodes", "category": category,
            "output_node": False,
        }  # fmt: skip
    for cls in node_classes:
        schema = cls.GET_SCHEMA()
        info[schema.node_id] = node_definition(schema)
    return info


def png(rgb: tuple[int, int, int], width: int = 32, height: int = 24) -> bytes:
    """A PNG of one colour with a lighter square in it."""
    light = bytes(min(255, c + 90) for c in rgb)
    rows = b"".join(b"\0" + b"".join(light if width // 4 <= x < width // 2 and height // 4 <= y < height * 3 // 4 else bytes(rgb) for x in range(width)) for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


PAUSE = {"event": "denoise_step", "chunk": 1, "step": 3}
"""The stand-in run pauses after this event until ``POST /ltx2-test/finish``."""
RESUMED = 1
"""The stand-in run's first chunks are resumed (loaded from an earlier run, not rendered)."""


def stand_in_run(node_id: str, prompt_id: str, preview: str) -> list[dict]:
    """The progress payloads of a five-chunk chain run (as nodes/host.py sends them), its first RESUMED chunks
    loaded from an earlier run."""
    from ltx2.chain import events
    from ltx2.chain.progress import ProgressTracker

    clock = iter(range(0, 10_000, 5))
    tracker = ProgressTracker(clock=lambda: float(next(clock)))
    keeps = [(0, 121), (121, 217), (217, 313), (313, 409), (409, 481)]
    run = [events.ChainStarted(5, 481, 24.0)]  # chunks, total frames, frame rate
    for chunk, keep in enumerate(keeps):
        resumed = chunk < RESUMED
        run.append(events.ChunkStarted(chunk=chunk, chunks=5, resumed=resumed, prompt=f"prompt {chunk}"))
        run += [] if resumed else [events.DenoiseStep(chunk=chunk, chunks=5, step=s, steps=8) for s in range(1, 9)]
        run += [events.Stitching(chunk=chunk, keep=keep), events.ChunkFinished(chunk=chunk, chunks=5, resumed=resumed, frames_done=keep[1], total_frames=481, seconds=50.0)]
    run.append(events.ChainFinished(chunks=5, total_frames=481, rendered_chunks=5, seconds=250.0))
    payloads = []
    for event in run:
        payload = tracker(event)
        payload.update(node=node_id, prompt_id=prompt_id)
        if event.name == "chunk_done":
            payload["preview"] = preview
        payloads.append(payload)
    return payloads


PREVIEW = "data:image/svg+xml;base64," + base64.b64encode(
    b'<svg xmlns="http://www.w3.org/2000/svg" width="160" height="90"><rect width="160" height="90" fill="#2a6"/>'
    b'<circle cx="50" cy="45" r="25" fill="#fff"/></svg>'
).decode()
"""A 16 x 9 picture standing in for the last finished chunk's frame."""


class FrontendServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # the frontend opens many connections at once

    def __init__(self, node_classes, static: Path | None = None, port: int = 0, outputs: dict[str, bytes] | None = None):
        """``outputs``: files of the stand-in output folder by "subfolder/name" (the run's video)."""
        super().__init__(("127.0.0.1", port), Handler)
        self.outputs = outputs or {}
        self.static = static or frontend_dir()
        self.web = ROOT / "web"
        self.info = object_info(node_classes)
        self.sockets: list = []
        self.lock = threading.Lock()
        self.prompts: list[dict] = []
        self.sent: list[dict] = []
        self.pending: list[tuple[str, dict]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def start(self) -> FrontendServer:
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def broadcast(self, kind: str, data) -> None:
        frame = json.dumps({"type": kind, "data": data}).encode()
        header = bytes([0x81]) + (struct.pack(">B", len(frame)) if len(frame) < 126 else struct.pack(">BH", 126, len(frame)) if len(frame) < 65536 else struct.pack(">BQ", 127, len(frame)))
        with self.lock:
            for sock in list(self.sockets):
                try:
                    sock.sendall(header + frame)
                except OSError:
                    self.sockets.remove(sock)

    def queue(self, body: dict) -> dict:
        prompt_id = str(uuid.uuid4())
        self.prompts.append(body)
        self.broadcast("execution_start", {"prompt_id": prompt_id})
        for node_id, spec in body.get("prompt", {}).items():
            if spec.get("class_type") == "LTX2Chain_ChainSampler":
                self.broadcast("executing", {"node": node_id, "display_node": node_id, "prompt_id": prompt_id})
                run = [("ltx2chain.progress", payload) for payload in stand_in_run(node_id, prompt_id, PREVIEW)]
                video = {"images": [{"filename": OUTPUT_VIDEO.split("/")[1], "subfolder": OUTPUT_VIDEO.split("/")[0], "type": "output"}], "animated": [True]}
                run.append(("executed", {"node": node_id, "display_node": node_id, "output": video, "prompt_id": prompt_id}))
                pause = 1 + next(i for i, (_, p) in enumerate(run) if all(p.get(k) == v for k, v in PAUSE.items()))
                self.play(run[:pause])
                self.pending += run[pause:]
        self.pending += [("executing", {"node": None, "prompt_id": prompt_id}), ("execution_success", {"prompt_id": prompt_id})]
        return {"prompt_id": prompt_id, "number": len(self.prompts), "node_errors": {}}

    def play(self, messages: list[tuple[str, dict]]) -> None:
        for kind, data in messages:
            if kind == "ltx2chain.progress":
                self.sent.append(data)
            self.broadcast(kind, data)

    def finish(self) -> None:
        """Plays the rest of the paused runs: their last chunks, the end, the video output."""
        self.play(self.pending)
        self.pending = []


SETTINGS = {
    "Comfy.TutorialCompleted": True, "Comfy.Workflow.ShowMissingModelsWarning": False,
    "Comfy.Workflow.ShowMissingNodesWarning": False, "Comfy.Minimap.Visible": False,
}  # fmt: skip
"""A user who has seen the first-run templates dialog: nothing covers the canvas."""

EMPTY = {
    "/embeddings": [], "/settings": SETTINGS, "/users": {"storage": "server", "migrated": True},
    "/userdata": [], "/v2/userdata": [], "/queue": {"queue_running": [], "queue_pending": []}, "/history": {},
    "/features": {"supports_preview_metadata": False}, "/i18n": {}, "/workflow_templates": {}, "/models": [],
    "/experiment/models": [], "/prompt": {"exec_info": {"queue_remaining": 0}}, "/global_subgraphs": {},
    "/jobs": {"jobs": [], "pagination": {"offset": 0, "limit": 0, "total": 0, "has_more": False}},
    "/node_replacements": {}, "/templates": [], "/user.css": None,
}  # fmt: skip


class Handler(BaseHTTPRequestHandler):
    server: FrontendServer
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def _send(self, status: int, body: bytes, kind: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def _json(self, value, status: int = 200) -> None:
        self._send(status, json.dumps(value).encode())

    def _file(self, base: Path, relative: str) -> None:
        path = (base / relative).resolve()
        if base.resolve() not in path.parents or not path.is_file():
            return self._send(404, b"not found", "text/plain")
        kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        self._send(200, path.read_bytes(), "text/javascript" if path.suffix in (".js", ".mjs") else kind)

    def do_GET(self):
        url = urllib.parse.urlparse(self.path)
        route = url.path.removeprefix("/api") if url.path.startswith("/api/") else url.path
        if route == "/ws":
            return self._websocket()
        if route == "/object_info":
            return self._json(self.server.info)
        if route.startswith("/object_info/"):
            name = urllib.parse.unquote(route.split("/", 2)[2])
            return self._json({name: self.server.info[name]} if name in self.server.info else {})
        if route == "/extensions":
            web = self.server.web
            return self._json([f"/extensions/{PACK_KEY}/{p.relative_to(web).as_posix()}" for p in sorted(web.rglob("*.js"))])
        if route.startswith(f"/extensions/{PACK_KEY}/"):
            return self._file(self.server.web, route.split("/", 3)[3])
        if route == "/system_stats":
            return self._json({
                "system": {"os": "posix", "python_version": sys.version, "embedded_python": False, "comfyui_version": "0.3.70",
                           "pytorch_version": "stand-in", "argv": ["main.py"], "ram_total": 1 << 34, "ram_free": 1 << 33},
                "devices": [{"name": "cpu", "type": "cpu", "index": None, "vram_total": 0, "vram_free": 0, "torch_vram_total": 0, "torch_vram_free": 0}],
            })  # fmt: skip
        if route.startswith("/settings/"):
            return self._json(SETTINGS.get(urllib.parse.unquote(route.split("/", 2)[2])))
        if route == "/view":
            query = urllib.parse.parse_qs(url.query)
            name = "/".join(filter(None, [query.get("subfolder", [""])[0], query.get("filename", [""])[0]]))
            if query.get("type", ["output"])[0] == "input" and name in INPUT_IMAGES:
                return self._send(200, png(INPUT_IMAGES[name]), "image/png")
            if query.get("type", ["output"])[0] == "output" and name in self.server.outputs:
                return self._send(200, self.server.outputs[name], mimetypes.guess_type(name)[0] or "application/octet-stream")
            return self._send(404, b"not found", "text/plain")
        if route.startswith("/userdata/"):
            return self._send(404, b"not found", "text/plain")
        for prefix, value in EMPTY.items():
            if route == prefix or route.startswith(prefix + "/"):
                return self._send(200, b"", "text/css") if value is None else self._json(value)
        return self._file(self.server.static, route.lstrip("/") or "index.html")

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        route = urllib.parse.urlparse(self.path).path.removeprefix("/api")
        if route == "/prompt":
            return self._json(self.server.queue(json.loads(body)))
        if route == "/ltx2-test/finish":
            self.server.finish()
        return self._json({})

    do_PUT = do_POST
    do_DELETE = do_POST

    def _websocket(self) -> None:
        key = self.headers.get("Sec-WebSocket-Key", "")
        accept = base64.b64encode(hashlib.sha1((key + WS_GUID).encode()).digest()).decode()
        self.send_response(101)
        self.send_header("Upgrade", "websocket")
        self.send_header("Connection", "Upgrade")
        self.send_header("Sec-WebSocket-Accept", accept)
        self.end_headers()
        self.wfile.flush()
        self.close_connection = True
        with self.server.lock:
            self.server.sockets.append(self.connection)
        self.server.broadcast("status", {"status": {"exec_info": {"queue_remaining": 0}}, "sid": "stand-in"})
        try:  # read (and drop) what the client sends until it closes
            while True:
                head = self.rfile.read(2)
                if len(head) < 2 or head[0] & 0x0F == 0x8:
                    break
                size = head[1] & 0x7F
                size = struct.unpack(">H", self.rfile.read(2))[0] if size == 126 else struct.unpack(">Q", self.rfile.read(8))[0] if size == 127 else size
                self.rfile.read(size + (4 if head[1] & 0x80 else 0))
        except OSError:
            pass
        with self.server.lock:
            if self.connection in self.server.sockets:
                self.server.sockets.remove(self.connection)


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT / "tests"))
    from conftest import load_pack_like_comfyui
    from test_pack import node_classes

    server = FrontendServer(node_classes(load_pack_like_comfyui()), port=int(sys.argv[1]) if len(sys.argv) > 1 else 8188)
    print(f"serving the ComfyUI frontend {frontend_version(server.static)} at {server.url}")
    server.serve_forever()
