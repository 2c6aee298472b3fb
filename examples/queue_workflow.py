"""Queue an API-format workflow on a running ComfyUI and follow the chain's progress until it finishes.

    python examples/queue_workflow.py example_workflows/api/ltx2chain_text_to_video_long.json
    python examples/queue_workflow.py my_chain.json --server 192.168.1.20:8188 --set 2.seconds=30 --set 2.filename_prefix=tests/short

Standard library only; with ``websocket-client`` installed (``pip install websocket-client``) it prints every
``ltx2chain.progress`` event live, otherwise it polls ``/history`` until the prompt is done. The prompt is sent
with a ``client_id`` and the websocket opened with the same id: ComfyUI sends a prompt's events only to the
client that queued it. Exit status: 0 done, 1 error, 130 cancelled.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid


def post_prompt(server: str, prompt: dict, client_id: str) -> str:
    body = json.dumps({"prompt": prompt, "client_id": client_id}).encode()
    request = urllib.request.Request(f"http://{server}/prompt", body, {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request) as response:
            return json.load(response)["prompt_id"]
    except urllib.error.HTTPError as e:  # 400: the workflow did not validate; node_errors says where
        detail = json.loads(e.read() or b"{}")
        raise SystemExit(f"ComfyUI refused the workflow: {json.dumps(detail.get('node_errors') or detail, indent=2)}") from None


def history(server: str, prompt_id: str) -> dict | None:
    with urllib.request.urlopen(f"http://{server}/history/{prompt_id}") as response:
        return json.load(response).get(prompt_id)


def describe(progress: dict) -> str:
    """One line for an ``ltx2chain.progress`` payload."""
    event = progress["event"]
    eta = f", about {progress['eta_seconds']:.0f} s left" if progress.get("eta_seconds") is not None else ""
    if event == "chain_start":
        warnings = "".join(f"\n  warning: {w}" for w in progress.get("warnings", []))
        return f"chain: {progress['chunks']} chunks, {progress['total_frames']} frames at {progress['frame_rate']:g} fps{warnings}"
    if event == "chunk_start":
        return f"chunk {progress['chunk'] + 1}/{progress['chunks']}" + (" (resumed)" if progress["resumed"] else f": {progress['prompt'][:60]}")
    if event == "denoise_step":
        return f"  step {progress['step']}/{progress['steps']}{eta}"
    if event == "chunk_done":
        return f"  {progress['frames_done']}/{progress['total_frames']} frames done{eta}"
    if event == "done":
        return f"chain done: {progress['rendered_chunks']} chunks rendered, {progress['seconds']:.1f} s"
    if event == "error":
        return f"chain stopped: {'cancelled' if progress['cancelled'] else progress['message']}"
    return event


def follow_websocket(server: str, client_id: str, queue) -> int:
    import websocket  # websocket-client

    ws = websocket.create_connection(f"ws://{server}/ws?clientId={client_id}")
    try:
        prompt_id = queue()  # queue only once the socket listens: no early event is lost
        while True:
            frame = ws.recv()
            if not isinstance(frame, str):  # binary frames: previews
                continue
            message = json.loads(frame)
            kind, data = message.get("type"), message.get("data", {})
            if data.get("prompt_id") not in (None, prompt_id):
                continue
            if kind == "ltx2chain.progress":
                print(describe(data), flush=True)
            elif kind == "execution_error":
                print(f"error in node {data.get('node_id')} ({data.get('node_type')}): {data.get('exception_message')}", file=sys.stderr)
                return 1
            elif kind == "execution_interrupted":
                print("cancelled", file=sys.stderr)
                return 130
            elif kind == "executing" and data.get("node") is None and data.get("prompt_id") == prompt_id:
                return report(server, prompt_id)
    finally:
        ws.close()


def follow_polling(server: str, queue) -> int:
    prompt_id = queue()
    print("(install websocket-client for live progress; polling /history)")
    while (entry := history(server, prompt_id)) is None or not entry.get("status", {}).get("completed", False):
        if entry is not None and entry.get("status", {}).get("status_str") == "error":
            print(json.dumps(entry["status"].get("messages"), indent=2), file=sys.stderr)
            return 1
        time.sleep(2)
    return report(server, prompt_id)


def report(server: str, prompt_id: str) -> int:
    """Print where the outputs are (the chain sampler reports its MP4 under ``images``, as core video nodes do)."""
    entry = history(server, prompt_id) or {}
    for node_id, output in entry.get("outputs", {}).items():
        for item in output.get("images", []):
            query = urllib.parse.urlencode({"filename": item["filename"], "subfolder": item.get("subfolder", ""), "type": item.get("type", "output")})
            print(f"node {node_id}: {item.get('subfolder', '')}/{item['filename']}  http://{server}/view?{query}")
    return 0


def apply_overrides(prompt: dict, overrides: list[str]) -> None:
    """``NODE.INPUT=VALUE`` (VALUE parsed as JSON when it is JSON, else kept as text)."""
    for item in overrides:
        target, _, value = item.partition("=")
        node_id, _, name = target.partition(".")
        if node_id not in prompt or not name:
            raise SystemExit(f"--set {item}: expected NODE.INPUT=VALUE with a node id of the workflow ({', '.join(prompt)})")
        try:
            prompt[node_id]["inputs"][name] = json.loads(value)
        except json.JSONDecodeError:
            prompt[node_id]["inputs"][name] = value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("workflow", help="an API-format workflow (ComfyUI: Workflow > Export (API))")
    parser.add_argument("--server", default="127.0.0.1:8188", help="ComfyUI host:port (default 127.0.0.1:8188)")
    parser.add_argument("--set", action="append", default=[], metavar="NODE.INPUT=VALUE", help="change an input before queueing")
    args = parser.parse_args(argv)
    with open(args.workflow, encoding="utf-8") as f:
        prompt = json.load(f)
    apply_overrides(prompt, args.set)
    client_id = str(uuid.uuid4())

    def queue() -> str:
        prompt_id = post_prompt(args.server, prompt, client_id)
        print(f"queued {prompt_id}", flush=True)
        return prompt_id

    try:
        import websocket  # noqa: F401
    except ImportError:
        return follow_polling(args.server, queue)
    return follow_websocket(args.server, client_id, queue)


if __name__ == "__main__":
    sys.exit(main())
