"""The one module that touches ComfyUI. Everything else in ``nodes/`` reaches the host through here.

Inside ComfyUI this re-exports the V3 node API (``comfy_api.latest``) and provides :class:`ComfyHost`, the
engine's Host backed by ComfyUI's model management (device, dtype, interrupt), its node progress bar and
custom websocket events. With no ComfyUI installed the node API falls back to the standalone stand-in and runs
use the engine's :class:`StandaloneHost`, so the nodes still import and run (tests, scripts).
"""

from __future__ import annotations

import base64
import functools
import importlib
import inspect
import logging
from io import BytesIO
from pathlib import Path
from types import SimpleNamespace

import torch

from ..ltx2.chain.events import ChainEvent, ChainStarted, DenoiseStep
from ..ltx2.chain.progress import ProgressTracker
from ..ltx2.host import ChainCancelled, StandaloneHost
from ..ltx2.memory.planner import Geometry
from ..ltx2.model.fp8_linear import Fp8Linear, dequantize
from ..ltx2.model.ops import CASTABLE, LAYER_CLASSES
from ..ltx2.pipeline.models import LTXModels

try:
    from comfy_api.latest import ComfyExtension, io

    IN_COMFYUI = True
except ImportError:
    from . import v3_standalone as io
    from .v3_standalone import ComfyExtension

    IN_COMFYUI = False

ADVANCED = {"advanced": True} if "advanced" in inspect.signature(io.Int.Input.__init__).parameters or not IN_COMFYUI else {}
"""Keyword arguments that mark an input as advanced (the frontend folds it away) where the node API knows the flag;
nothing on older ComfyUI versions, whose inputs would refuse it."""

log = logging.getLogger(__name__)

NODE_PREFIX = "LTX2Chain_"
"""Every node id starts with this; ids are permanent (saved workflows store them)."""
CATEGORY = "LTX-2 Chain"
PROGRESS_EVENT = "ltx2chain.progress"
"""Websocket event carrying chain progress; payload: ChainEvent.to_dict() + node, prompt_id, render_speed, eta_seconds,
and on chunk_done a ``preview``: the chunk's last frame as a JPEG data URL (at most PREVIEW_WIDTH wide)."""
PREVIEW_WIDTH = 256


def _comfy(module: str):
    # looked up at call time: ComfyUI rebinds some of these attributes after start-up
    return importlib.import_module(module)


@functools.cache
def _cancelled(interrupt: type) -> type:
    return type("ComfyChainCancelled", (ChainCancelled, interrupt), {})


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
        try:
            _comfy("comfy.model_management").throw_exception_if_processing_interrupted()
        except Exception as error:  # all it raises is the build's interrupt exception (its home differs by build)
            # re-raised as both ComfyUI's interrupt (the executor reports execution_interrupted) and the engine's
            # cancel (the chain reports "cancelled", not an error)
            raise _cancelled(type(error))("cancelled in ComfyUI") from error

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
        if getattr(event, "last_frame", None) is not None:
            payload["preview"] = preview_url(event.last_frame)
        for warning in getattr(event, "warnings", ()):  # e.g. a keyframe past the end of a chain as long as its song
            log.warning("node %s: %s", self.node_id, warning)
        self._advance_bar(event)
        server = _comfy("server").PromptServer.instance
        server.send_sync(PROGRESS_EVENT, payload, server.client_id)


def preview_url(frame: torch.Tensor) -> str:
    """A frame [H, W, 3] in 0..1 as a small JPEG data URL (at most PREVIEW_WIDTH wide) for the progress panel."""
    from PIL import Image

    h, w = frame.shape[:2]
    scale = min(1.0, PREVIEW_WIDTH / w)
    pixels = frame.float().mul(255).round().clamp(0, 255).to(torch.uint8).numpy()
    picture = Image.fromarray(pixels).resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.BILINEAR)
    out = BytesIO()
    picture.save(out, format="JPEG", quality=80)
    return "data:image/jpeg;base64," + base64.b64encode(out.getvalue()).decode("ascii")


def executing_prompt_id() -> str | None:
    """The id of the prompt ComfyUI is executing now (None on builds that do not track it)."""
    try:
        context = _comfy("comfy_execution.utils").get_executing_context()
    except (ImportError, AttributeError):
        return None
    return getattr(context, "prompt_id", None) or getattr(context, "task_id", None)  # task_id: pip-installable forks


def make_host(node_id: str | None = None, prompt_id: str | None = None):
    """The host for a run started by a node: ComfyUI's when inside ComfyUI, else the standalone one."""
    return ComfyHost(node_id, prompt_id or executing_prompt_id()) if IN_COMFYUI else StandaloneHost()


# ---- files (ComfyUI only: standalone callers have their own folders, see model_files.py and outputs.py)


def model_folders(kind: str) -> list[Path]:
    """The folders ComfyUI keeps ``kind`` models in (``checkpoints``, ``text_encoders``, ``loras``, ...),
    including those added by ``extra_model_paths.yaml``; a kind this ComfyUI does not know has none."""
    folder_paths = _comfy("folder_paths")
    if kind not in folder_paths.folder_names_and_paths:
        return []
    return [Path(p) for p in folder_paths.get_folder_paths(kind)]


def output_directory() -> Path:
    return Path(_comfy("folder_paths").get_output_directory())


def input_file(name: str) -> Path:
    """A file in ComfyUI's input folder (``name [output]`` style annotations honoured)."""
    return Path(_comfy("folder_paths").get_annotated_filepath(name))


# ---- devices and model management


def model_placement() -> tuple[torch.device, torch.device, torch.dtype]:
    """(load device, offload device, default dtype) for our models, honouring ComfyUI's --cpu, --gpu-only,
    --highvram, --bf16-unet... flags: models live on the offload device until a run loads them."""
    mm = _comfy("comfy.model_management")
    load = mm.get_torch_device()
    dtype = mm.unet_dtype(load, supported_dtypes=[torch.bfloat16, torch.float16, torch.float32])
    return torch.device(load), torch.device(mm.unet_offload_device()), dtype


class _Held(torch.nn.Module):
    """One of our modules as ComfyUI's patcher sees it: a container it may set its bookkeeping attributes on
    (``device``, loaded-memory counters) without running into the module's own properties (Hugging Face models
    define a read-only ``device``)."""

    def __init__(self, module: torch.nn.Module):
        super().__init__()
        self.held = module

    def get_dtype(self) -> torch.dtype:
        return next(self.held.parameters()).dtype


@functools.cache
def _held_class(component: str) -> type:
    """A holder class named after the component, so ComfyUI's memory log says what it loads
    (``ModelPatcher for LTX2Chain_transformer``)."""
    return type(NODE_PREFIX + component, (_Held,), {})


@functools.cache
def _fp8_linear(cast_op: type) -> type:
    """Our fp8 Linear as a ComfyUI castable layer: loaded whole when it fits, otherwise left on the offload device
    and brought in (fp8, then dequantised exactly as :class:`Fp8Linear` does) each time it runs."""

    def forward(self, x):
        if not (self.comfy_cast_weights or self.weight_function or self.bias_function):
            return Fp8Linear.forward(self, x)
        ops = _comfy("comfy.ops")
        weight, bias, stream = ops.cast_bias_weight(self, x, dtype=torch.float32, bias_dtype=x.dtype, offloadable=True)
        out = torch.nn.functional.linear(x, dequantize(weight, self.weight_scale.to(x.device), x.dtype), bias)
        ops.uncast_bias_weight(self, weight, bias, stream)
        return out

    return type("ComfyFp8Linear", (Fp8Linear, cast_op), {"forward": forward})


def layer_operations() -> SimpleNamespace:
    """The layer classes the engine's networks are built from inside ComfyUI (:mod:`ltx2.model.ops`): ComfyUI's
    ``comfy.ops.disable_weight_init`` layers (computing in the dtype they are stored in, castable by its partial
    loading) and an fp8 Linear that casts the same way."""
    ops = _comfy("comfy.ops")
    base = ops.disable_weight_init
    return SimpleNamespace(**{name: getattr(base, name) for name in LAYER_CLASSES}, Fp8Linear=_fp8_linear(ops.CastWeightBiasOp))


class ManagedModules:
    """Our torch modules under ComfyUI's model management: one model patcher per component, so ComfyUI counts
    their memory, frees room for them, and offloads them when another workflow needs the GPU. A run loads only
    the components of the phase it is in (:meth:`attach`), with the memory planner's working memory for it.

    ``resident_blocks`` > 0: the DiT is not handed to ComfyUI; the engine streams its blocks (that many resident),
    after asking ComfyUI to free the room they need. The patchers are held here (ComfyUI's loaded-model list
    keeps only weak references): keep this object alive as long as the modules are in use (it travels inside
    the model node's output)."""

    def __init__(self, modules: dict[str, torch.nn.Module], load_device: torch.device, offload_device: torch.device, *, resident_blocks: int = 0):
        patchers = _comfy("comfy.model_patcher")
        # looked up at call time: CoreModelPatcher is rebound when dynamic VRAM starts; older builds lack it
        make = getattr(patchers, "CoreModelPatcher", None) or patchers.ModelPatcher
        self.load_device, self.resident_blocks = load_device, resident_blocks
        streamed = {"transformer"} if resident_blocks else set()
        self.patchers = {
            name: make(_held_class(name)(module), load_device=load_device, offload_device=offload_device) for name, module in modules.items() if name not in streamed
        }

    def load(self, names, memory_required: int) -> list[str]:
        """Bring the named components to the load device (ComfyUI frees room for them and for ``memory_required``
        bytes of working memory). Only the networks that handle weights left on the offload device (the DiT) may
        be loaded partially; the others load whole. Returns the names handed to ComfyUI."""
        names = [n for n in names if n in self.patchers]
        if names:
            partial = all(n in CASTABLE for n in names)
            mm = _comfy("comfy.model_management")
            mm.load_models_gpu([self.patchers[n] for n in names], memory_required=memory_required, force_full_load=not partial)
        return names

    def attach(self, models: LTXModels, geometry: Geometry) -> None:
        """Make ``models`` (a per-run view) load each phase's components through ComfyUI as the phase starts."""
        work = models.working_memory(geometry)

        def enter(phase: str, needed: tuple[str, ...]) -> None:
            if self.resident_blocks and phase == "denoise":
                mm = _comfy("comfy.model_management")
                mm.free_memory(models.residency.peak_weight_bytes("transformer") + work[phase], self.load_device)
            self.load(needed, work.get(phase, 0))

        if self.resident_blocks:
            models.offload("blocks", blocks=self.resident_blocks, components=("transformer",), on_enter=enter)
        else:
            models.offload("none", on_enter=enter)


# ---- outputs


def video_output(path: Path):
    """A standard VIDEO value for a finished MP4 (core Save/Preview Video nodes take it)."""
    return importlib.import_module("comfy_api.latest").InputImpl.VideoFromFile(str(path))


def blocked_output(message: str):
    """An output value that stops the nodes fed by it, with ``message`` shown if one of them is needed."""
    try:
        graph = _comfy("comfy_execution.graph_utils")
        blocker = graph.ExecutionBlocker
    except (ImportError, AttributeError):  # older ComfyUI
        blocker = _comfy("comfy_execution.graph").ExecutionBlocker
    return blocker(message)


__all__ = [
    "CATEGORY",
    "IN_COMFYUI",
    "NODE_PREFIX",
    "PROGRESS_EVENT",
    "ComfyExtension",
    "ComfyHost",
    "ManagedModules",
    "blocked_output",
    "executing_prompt_id",
    "input_file",
    "io",
    "layer_operations",
    "make_host",
    "model_folders",
    "model_placement",
    "output_directory",
    "video_output",
]
