"""Which component's weights are on the compute device, phase by phase, and a ledger of it.

A render goes through phases, each needing a few components (:data:`PHASES`). The offload mode decides what
happens to the others:

* ``none``: every component stays on the compute device for the whole run (fastest, most memory).
* ``model``: entering a phase takes every component it does not need off the device: to CPU memory (pinned,
  when the compute device is a GPU), or, with ``low_ram`` or when the compute device is the CPU itself, freed
  and re-read from its file when next needed (components loaded from a file only; others stay).
* ``blocks``: as ``model``, and the two block stacks (the DiT's 48 blocks, Gemma's 48 layers) are streamed:
  ``blocks - 1`` of them stay on the device; the others come in just before they run (on a GPU the next one is
  copied on a side stream while the current one computes) and leave right after, so at most ``blocks + 1``
  are on the device at once.

Moving weights never changes them: every mode computes bit-identical outputs. :attr:`Residency.ledger` records,
for each phase entered, the bytes of each component on the device and the most blocks streamed in at once.
"""

from __future__ import annotations

import contextlib
from collections import deque
from dataclasses import dataclass, field
from typing import Callable, Iterator, Mapping

import torch
from torch import nn

from ..loading.build import get_local, return_freed_memory, set_local, stream_into
from ..loading.lazy import Source
from ..options import OFFLOAD_MODES

PHASES: dict[str, tuple[str, ...]] = {
    "text": ("text_encoder", "text_features", "video_connector", "audio_connector"),
    "encode": ("video_encoder", "audio_encoder"),
    "denoise": ("transformer",),
    "upsample": ("upsampler", "video_encoder"),
    "decode": ("video_decoder", "audio_decoder", "vocoder"),
}
"""Phase -> the components it runs. ``encode``: tails and anchors into latents; ``upsample``: the latent x2
upsampler between two stages (with the encoder's latent statistics); ``decode``: latents to frames and sound."""
STREAMED = {"transformer": "transformer_blocks", "text_encoder": "layers"}
"""Components whose block stack ``blocks`` mode streams: component -> attribute holding the ModuleList."""
LEDGER_LENGTH = 4096  # the most recent phases kept (a long-lived host would otherwise grow it forever)


@dataclass
class PhaseRecord:
    phase: str
    resident: dict[str, int]
    """Component -> bytes of its weights on the compute device while the phase ran."""
    blocks_peak: dict[str, int] = field(default_factory=dict)
    """Streamed component -> the most of its blocks on the device at once during the phase."""

    def __str__(self) -> str:
        parts = ", ".join(f"{name} {size / 2**20:.1f} MiB" for name, size in self.resident.items() if size)
        streamed = "".join(f"; {name}: at most {n} blocks" for name, n in self.blocks_peak.items())
        total = sum(self.resident.values())
        size = f"{total / 2**30:.2f} GiB" if total >= 2**30 else f"{total / 2**20:.1f} MiB"
        return f"{self.phase}: {size} on the device ({parts or 'nothing'}){streamed}"


def _tensors(module: nn.Module) -> Iterator[tuple[str, nn.Module, str, torch.Tensor]]:
    """(state key, owner, attribute, tensor) of every parameter and buffer, shared ones once."""
    seen = set()
    for prefix, owner in module.named_modules():
        for kind in (owner._parameters, owner._buffers):
            for name, tensor in kind.items():
                if tensor is None or id(tensor) in seen:
                    continue
                seen.add(id(tensor))
                yield (f"{prefix}.{name}" if prefix else name), owner, name, tensor


class _Part:
    """A set of tensors (a whole component, its non-block rest, or one block) that moves as one."""

    def __init__(self, module: nn.Module, device: torch.device, source: Source | None, keys: set[str] | None, home: str):
        self.module, self.device, self.source = module, device, source
        tensors = [(key, owner, name, t) for key, owner, name, t in _tensors(module) if keys is None or key in keys]
        self.slots = [(key, owner, name) for key, owner, name, _ in tensors]
        self.home = home  # "device" (never moves), "cpu" (a CPU copy), or "file" (freed, re-read)
        self.placed = any(t.device == device for *_, t in tensors)
        """Whether the part is on the device: kept up to date by place / evict, so the streaming hooks need not
        look at every tensor."""
        # the part's keys in the state's order (a weight quantised at load comes before its scale)
        mine = {key for key, *_ in self.slots}
        self.file_keys = [k for k in source.state if k in mine] if source is not None else []
        self.cpu: dict[str, torch.Tensor] = {}
        self.pending: dict[str, torch.Tensor] | None = None  # a prefetch on its way
        self.event = None

    def nbytes(self) -> int:
        return sum(get_local(owner, name).nbytes for _, owner, name in self.slots)

    def evict(self) -> None:
        if self.home == "device":
            return
        self.placed = False
        for key, owner, name in self.slots:
            t = get_local(owner, name)
            if t.device != self.device:
                continue
            if self.home == "cpu":
                if key not in self.cpu:  # pinned: copies to the GPU can then run on a side stream
                    self.cpu[key] = t.to("cpu").pin_memory() if self.device.type == "cuda" else t.to("cpu")
                set_local(owner, name, self.cpu[key])
            elif key in self.source.state:
                set_local(owner, name, torch.empty_like(t, device="meta"))

    def prefetch(self, stream) -> None:
        """Start copying a CPU-homed part to the GPU on ``stream`` (picked up by :meth:`place`)."""
        if self.home != "cpu" or self.pending is not None or self.placed:
            return
        with torch.cuda.stream(stream):
            self.pending = {key: self.cpu[key].to(self.device, non_blocking=True) for key, _, _ in self.slots if key in self.cpu}
            self.event = torch.cuda.Event()
            self.event.record(stream)

    def place(self, force: bool = False) -> None:
        """Bring every tensor of the part to the device: a finished prefetch, a copy of its CPU tensor, or a
        re-read from the file for freed ones. A part that lives on the device (mode ``none``) is left where its
        host put it (ComfyUI moves it itself) unless ``force``d; only freed tensors are read back."""
        if self.pending is not None:
            current = torch.cuda.current_stream(self.device)
            current.wait_event(self.event)
            for key, owner, name in self.slots:
                if key in self.pending:
                    self.pending[key].record_stream(current)
                    set_local(owner, name, self.pending[key])
            self.pending = self.event = None
        freed = set()
        for key, owner, name in self.slots:
            t = get_local(owner, name)
            if t.device == self.device:
                continue
            if t.is_meta:
                freed.add(key)
                continue
            if self.home == "device" and not force:
                continue
            if self.home == "cpu" and key not in self.cpu:  # pinned: later copies can run on a side stream
                self.cpu[key] = t.pin_memory() if self.device.type == "cuda" else t
            set_local(owner, name, self.cpu.get(key, t).to(self.device, non_blocking=True))
        if freed:
            stream_into(self.module, self.source.state, device=self.device, dtype=self.source.dtype, keys=[k for k in self.file_keys if k in freed])
        self.placed = True


class Residency:
    def __init__(
        self,
        modules: Mapping[str, nn.Module],
        device: torch.device,
        mode: str = "none",
        *,
        blocks: int = 8,
        low_ram: bool = False,
        on_phase: Callable[[PhaseRecord], None] | None = None,
        on_enter: Callable[[str, tuple[str, ...]], None] | None = None,
    ):
        if mode not in OFFLOAD_MODES:
            raise ValueError(f"offload must be one of {', '.join(OFFLOAD_MODES)}, got {mode!r}")
        if mode == "blocks" and blocks < 1:
            raise ValueError(f"blocks must be at least 1, got {blocks}")
        self.device, self.mode, self.blocks, self.low_ram = torch.device(device), mode, blocks, low_ram
        self.modules = dict(modules)
        # what the loaders read from a file can be freed and read again (``Source``, left on the module)
        self.sources: dict[str, Source] = {name: m.weights_source for name, m in self.modules.items() if getattr(m, "weights_source", None)}
        self._hooks: list = []
        self.on_phase = on_phase
        self.on_enter = on_enter
        """Called with the phase's name and the components it runs once the components it does not need are off
        the device, before its own come in (a memory probe can start measuring the phase there; a host that places
        the weights itself, as ComfyUI does, loads them there)."""
        self.ledger: deque[PhaseRecord] = deque(maxlen=LEDGER_LENGTH)
        self._parts: dict[str, list[_Part]] = {}
        self._streams: dict[str, list[_Part]] = {}
        self._peak: dict[str, int] = {}
        self._active: set[str] = set()
        self._side = torch.cuda.Stream(self.device) if self.device.type == "cuda" and mode == "blocks" else None
        for name, module in self.modules.items():
            self._setup(name, module)

    def _home(self, name: str) -> str:
        if self.mode == "none":
            return "device"
        source = self.sources.get(name)
        if source is not None and (self.device.type == "cpu" or self.low_ram):
            return "file"
        return "cpu" if self.device.type != "cpu" else "device"

    def _setup(self, name: str, module: nn.Module) -> None:
        home, source = self._home(name), self.sources.get(name)
        stack = getattr(module, STREAMED.get(name, ""), None) if self.mode == "blocks" else None
        if not isinstance(stack, nn.ModuleList):
            self._parts[name] = [_Part(module, self.device, source, None, home)]
            return
        prefix = STREAMED[name] + "."
        keys = {key for key, *_ in _tensors(module)}
        rest = {k for k in keys if not k.startswith(prefix)}
        parts = [_Part(module, self.device, source, rest, home)]
        streamed = []
        for i, block in enumerate(stack):
            block_keys = {k for k in keys if k.startswith(f"{prefix}{i}.")}
            part = _Part(module, self.device, source, block_keys, home)
            (parts if i < self.blocks - 1 else streamed).append(part)
            if i >= self.blocks - 1:
                self._hooks.append(block.register_forward_pre_hook(lambda m, args, name=name, i=i: self._before_block(name, i)))
                self._hooks.append(block.register_forward_hook(lambda m, args, out, name=name, i=i: self._after_block(name, i)))
        self._parts[name] = parts
        self._streams[name] = streamed

    # --- streaming hooks -------------------------------------------------------------------------------

    def _block(self, name: str, i: int) -> _Part | None:
        index = i - (self.blocks - 1)
        stream = self._streams[name]
        return stream[index] if 0 <= index < len(stream) else None

    def _before_block(self, name: str, i: int) -> None:
        if name not in self._active:
            return
        self._block(name, i).place()
        nxt = self._block(name, i + 1)
        if nxt is not None and self._side is not None:
            nxt.prefetch(self._side)
        on = len(self._parts[name]) - 1 + sum(1 for part in self._streams[name] if part.placed or part.pending is not None)
        self._peak[name] = max(self._peak.get(name, 0), on)

    def _after_block(self, name: str, i: int) -> None:
        if name in self._active:
            part = self._block(name, i)
            part.evict()
            if part.home == "file":  # glibc does not reuse the freed block for the next read (measured): hand it back
                return_freed_memory()

    # --- phases ----------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def phase(self, phase: str, only: tuple[str, ...] | None = None) -> Iterator[PhaseRecord]:
        """Run ``phase`` with its components (``only`` these, where a caller runs part of it) on the device (and,
        off ``none``, the others off it)."""
        wanted = PHASES[phase] if only is None else only
        needed = [n for n in wanted if n in self.modules]
        if self.mode != "none":
            for name in self.modules:
                if name not in needed:
                    for part in self._parts[name] + self._streams.get(name, []):
                        part.evict()
            return_freed_memory()
        if self.on_enter is not None:
            self.on_enter(phase, tuple(wanted))
        for name in needed:
            for part in self._parts[name]:
                part.place()
            for part in self._streams.get(name, []):  # streamed blocks come in one at a time, as they run
                part.evict()
        if self.mode != "none" and self.device.type == "cpu":
            return_freed_memory()  # the read buffers of what was just re-read
        record = PhaseRecord(phase, {name: self.resident_bytes(name) for name in self.modules})
        self._active.update(needed)
        self._peak = {}
        try:
            yield record
        finally:
            self._active.difference_update(needed)
            record.blocks_peak = {n: p for n, p in self._peak.items() if n in needed}
            self.ledger.append(record)
            if self.on_phase is not None:
                self.on_phase(record)

    def peak_weight_bytes(self, name: str) -> int:
        """The most bytes of component ``name``'s weights on the device at once while a phase runs it (all of them,
        or, streamed, the resident part plus the streamed blocks that can be in at once)."""
        return sum(part.nbytes() for part in self._parts[name]) + self.streamed_bytes(name)

    def streamed_bytes(self, name: str) -> int:
        """The most bytes of component ``name``'s streamed blocks on the device at once while a phase runs it: what
        comes in after the phase has started (0 when the component is not streamed)."""
        streamed = self._streams.get(name, [])
        if not streamed:
            return 0
        in_flight = 1 if self._side is not None else 0
        return min(len(streamed), 1 + in_flight) * max(part.nbytes() for part in streamed)

    def resident_bytes(self, name: str) -> int:
        """Bytes of the component's weights (its state: not derived tables such as RoPE frequencies) on the device."""
        return sum(t.nbytes for t in self.modules[name].state_dict(keep_vars=True).values() if t.device == self.device)

    def restore(self) -> None:
        """Everything back on the device (switching to mode ``none`` after another)."""
        for name in self.modules:
            for part in self._parts[name] + self._streams.get(name, []):
                part.place(force=True)

    def close(self) -> None:
        """Remove the streaming hooks (before another mode takes over; each phase of the next one brings what
        it needs back to the device)."""
        for handle in self._hooks:
            handle.remove()
        self._hooks.clear()
