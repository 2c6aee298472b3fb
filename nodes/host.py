"""The one module that touches ComfyUI. Everything else in ``nodes/`` reaches the host through here.

Inside ComfyUI this re-exports the V3 node API (``comfy_api.latest``) and provides :class:`ComfyHost`, the
engine's Host backed by ComfyUI's model management (device, dtype, interrupt), its node progress bar and
custom websocket events. With no ComfyUI installed the node API falls back to the standalone stand-in and runs
use the engine's :class:`StandaloneHost`, so the nodes still import and run (tests, scripts).
"""

from __future__ import annotations

import importlib

from ..ltx2.chain.events import ChainEvent, ChainStarted, DenoiseStep
from ..ltx2.chain.progress import ProgressTracker
from ..ltx2.host import StandaloneHost

try:
    from comfy_api.latest import ComfyExtension, io

    IN_COMFYUI = True
except ImportError:
    from . import v3_standalone as io
    from .v3_standalone import ComfyExtension

    IN_COMFYUI = False

NODE_PREFIX = "LTX2Chain_"
"""Every node id starts with this; ids are permanent (saved workflows store them)."""
CATEGORY = "LTX-2 Chain"
PROGRESS_EVENT = "ltx2chain.progress"
"""Websocket event carrying chain progress; payload: ChainEvent.to_dict() + node, prompt_id, fps, eta_seconds."""


def _comfy(module: str):
    # looked up at call time: ComfyUI rebinds some of these attributes after start-up
    return importlib.import_module(module)


class ComfyHost:
    """A chain run's host inside ComfyUI: one progress bar over all denoise steps, events to the client."""

    def __init__(self, node_id: str | None, prompt_id: str | None = None):
        mm = _comfy("comfy.model_management")
        self.device = mm.get_torch_device()
        self.dtype = mm.unet_dtype(self.device)
        self.node_id = node_id
        self.prompt_id = prompt_id
        self.progress = ProgressTracker()
        self._bar = None
        self._chunks = 0

    def check_cancel(self) -> None:
        _comfy("comfy.model_management").throw_exception_if_processing_interrupted()

    def _advance_bar(self, event: ChainEvent) -> None:
        if isinstance(event, ChainStarted):
            self._chunks = event.chunks
        elif isinstance(event, DenoiseStep):
            if self._bar is None:  # the step count is known from the first step
                self._bar = _comfy("comfy.utils").ProgressBar(self._chunks * event.steps, node_id=self.node_id)
            self._bar.update_absolute(event.chunk * event.steps + event.step)

    def emit(self, event: ChainEvent) -> None:
        payload = self.progress(event)
        payload.update(node=self.node_id, prompt_id=self.prompt_id)
        self._advance_bar(event)
        server = _comfy("server").PromptServer.instance
        server.send_sync(PROGRESS_EVENT, payload, server.client_id)


def make_host(node_id: str | None = None, prompt_id: str | None = None):
    """The host for a run started by a node: ComfyUI's when inside ComfyUI, else the standalone one."""
    return ComfyHost(node_id, prompt_id) if IN_COMFYUI else StandaloneHost()


__all__ = ["CATEGORY", "IN_COMFYUI", "NODE_PREFIX", "PROGRESS_EVENT", "ComfyExtension", "ComfyHost", "io", "make_host"]
