"""ComfyHost against stand-ins of the ComfyUI modules it calls (no ComfyUI is installed here)."""

import importlib
import sys
import types

import pytest
from oracle import OracleRenderer


class Interrupted(Exception):
    pass


@pytest.fixture
def comfy(monkeypatch):
    state = types.SimpleNamespace(interrupt=False, sent=[], bars=[])

    mm = types.ModuleType("comfy.model_management")
    mm.get_torch_device = lambda: "cpu"
    mm.unet_dtype = lambda device: "bf16"

    def throw():
        if state.interrupt:
            raise Interrupted()

    mm.throw_exception_if_processing_interrupted = throw

    class Bar:
        def __init__(self, total, node_id=None):
            self.total, self.node_id, self.values = total, node_id, []
            state.bars.append(self)

        def update_absolute(self, value, total=None, preview=None):
            self.values.append(value)

    utils = types.ModuleType("comfy.utils")
    utils.ProgressBar = Bar
    server = types.ModuleType("server")
    server.PromptServer = types.SimpleNamespace(instance=types.SimpleNamespace(client_id="client-1", send_sync=lambda e, d, sid: state.sent.append((e, d, sid))))
    for name, module in {"comfy": types.ModuleType("comfy"), "comfy.model_management": mm, "comfy.utils": utils, "server": server}.items():
        monkeypatch.setitem(sys.modules, name, module)
    return state


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
    assert all(d["node"] == "7" and d["prompt_id"] == "prompt-1" and "eta_seconds" in d and "fps" in d for e, d, sid in comfy.sent)
    (bar,) = comfy.bars
    assert (bar.total, bar.node_id, bar.values) == (6, "7", [1, 2, 3, 4, 5, 6])

    comfy.interrupt = True
    comfy.sent.clear()
    with pytest.raises(Interrupted):
        ChainRunner(OracleRenderer(steps=3), host_module.ComfyHost("7")).run(plan, ChunkSchedule(), MemorySink())
    assert comfy.sent[-1][1]["event"] == "error"
