"""LoRA for the DiT: fused at load, or unfused with scales that change between forward calls.

File layout (official): ``diffusion_model.<DiT module path>.lora_A.weight`` (r, in) and
``.lora_B.weight`` (out, r), no metadata. The update of a Linear is ``strength * (B @ A)``: no alpha and
no rank scaling (LoRA files are pre-scaled). Pairs whose module is not a Linear of the model are ignored
with a warning naming them, as the reference loader ignores them.

* :func:`fuse_lora` merges into the weights in float32 (``W + s * (B @ A)``, then cast back to the
  weight's dtype). The reference merges in bf16; the two differ by bf16 rounding only.
* :class:`RuntimeLoras` keeps the weights untouched and adds ``((x @ A^T) * s) @ B^T`` to each target
  Linear's output through a forward hook; several LoRAs stack, and ``set_scale`` takes effect on the next
  call without touching any weight (the chain ramps LoRA scales per chunk). A scale of 0 adds exactly 0.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from ..errors import InputError
from ..model.fp8_linear import Fp8Linear, quantize
from .build import CheckpointMismatch
from .checkpoint import CheckpointFile, parse_version, read_header, what_it_is

log = logging.getLogger(__name__)

FILE_PREFIX = "diffusion_model."


ARCHITECTURE_NAMES = {"ltx2": "LTX-2 (19B)", "ltx23": "LTX-2.3", "ltx25": "LTX-2.5"}
_NAMED = (("ltx25", re.compile(r"ltx-?2[._]5")), ("ltx23", re.compile(r"ltx-?2[._]3")), ("ltx2", re.compile(r"ltx-?2-19b")))
"""How official LoRA files name their model (``ltx-2.3-22b-...``, ``ltx-2-19b-...``); they carry no metadata."""


def lora_architecture(path: str | os.PathLike) -> tuple[str, str] | None:
    """(architecture, how it is known) of a LoRA file: from a ``model_version`` in its metadata, else from the
    model its file name names; None when neither says."""
    metadata = read_header(path).get("__metadata__") or {}
    version = metadata.get("model_version") or metadata.get("ltx_version")
    if version:
        parsed = parse_version(version)
        return ("ltx25" if parsed >= (2, 5) else "ltx23" if parsed >= (2, 3) else "ltx2"), f"its metadata says model version {version}"
    name = Path(path).name.lower()
    return next(((arch, "its file name says so") for arch, pattern in _NAMED if pattern.search(name)), None)


def check_lora_fits(path: str | os.PathLike, architecture: str, model: str) -> None:
    """InputError naming both files when the LoRA was made for another model version than ``architecture``
    (the LoRA's layers can have the same shapes on LTX-2.3 and LTX-2.5, so shapes alone do not tell)."""
    found = lora_architecture(path)
    if found is not None and found[0] != architecture:
        made_for, how = found
        raise InputError([("lora", f"{Path(path).name} is a LoRA for {ARCHITECTURE_NAMES[made_for]} ({how}), but {model} is {ARCHITECTURE_NAMES[architecture]}: use a LoRA trained on {ARCHITECTURE_NAMES[architecture]}")])


@dataclass(frozen=True)
class LoraPair:
    down: torch.Tensor  # A (r, in)
    up: torch.Tensor  # B (out, r)


def read_lora(path: str | os.PathLike) -> dict[str, LoraPair]:
    """{module path: (A, B)} from an official LoRA file; :class:`CheckpointMismatch` naming the file when it is not
    a sound safetensors file or holds no complete LoRA pairs (checked from the header, before any tensor is read)."""
    lora = CheckpointFile(path)
    downs = [k for k in lora.shapes if k.endswith(".lora_A.weight")]
    ups = {k.removesuffix(".lora_A.weight") + ".lora_B.weight" for k in downs}
    missing = sorted(ups - set(lora.shapes))
    if missing:
        raise CheckpointMismatch(f"{path}: {missing[0]} is missing (its lora_A is there): a damaged LoRA file")
    unpaired = sorted(k for k in lora.shapes if k.endswith(".lora_B.weight") and k not in ups)
    if unpaired:
        raise CheckpointMismatch(f"{path}: {unpaired[0]} has no lora_A: a damaged LoRA file")
    if not downs:
        what = what_it_is(lora.shapes)
        what = "an LTX-2 checkpoint" if what is None else "a LoRA of another layout" if what == "a LoRA" else what
        raise CheckpointMismatch(f"{path}: no LoRA pairs (*.lora_A.weight with *.lora_B.weight): it is {what}, not an LTX-2 LoRA; give an official-layout LTX-2 LoRA file")
    return {
        key.removesuffix(".lora_A.weight").removeprefix(FILE_PREFIX): LoraPair(lora.read(key), lora.read(key.removesuffix(".lora_A.weight") + ".lora_B.weight"))
        for key in downs
    }


def targets(model: nn.Module, pairs: dict[str, LoraPair], source: str) -> dict[str, tuple[nn.Linear, LoraPair]]:
    """Pairs matched to the model's Linears (shapes checked); unmatched ones are logged and dropped."""
    modules = dict(model.named_modules())
    matched, ignored = {}, []
    for path, pair in pairs.items():
        linear = modules.get(path)
        if not isinstance(linear, nn.Linear):
            ignored.append(path)
            continue
        expected = (linear.out_features, linear.in_features)
        if (pair.up.shape[0], pair.down.shape[1]) != expected or pair.up.shape[1] != pair.down.shape[0]:
            raise ValueError(f"{source}: LoRA for {path} has A {list(pair.down.shape)}, B {list(pair.up.shape)}; the layer is {list(expected)}")
        matched[path] = (linear, pair)
    if ignored:
        log.warning("%s: %d LoRA pair(s) have no target Linear in the model and are ignored: %s", source, len(ignored), ", ".join(sorted(ignored)))
    return matched


@torch.no_grad()
def fuse_lora(model: nn.Module, pairs: dict[str, LoraPair], strength: float, source: str = "LoRA") -> int:
    """W += strength * (B @ A) for every matched Linear, computed in float32. Returns how many were fused."""
    matched = targets(model, pairs, source)
    for linear, pair in matched.values():
        w = linear.weight
        delta = pair.up.to(w.device, torch.float32) @ pair.down.to(w.device, torch.float32)
        if isinstance(linear, Fp8Linear):  # re-quantised with a scale of its own
            q, scale = quantize(linear.compute_weight(torch.float32) + strength * delta)
            w.copy_(q)
            linear.weight_scale.copy_(scale.reshape(linear.weight_scale.shape))
        else:
            w.copy_((w.to(torch.float32) + strength * delta).to(w.dtype))
    return len(matched)


class _LayerLoras:
    """All LoRAs on one Linear, concatenated along the rank: A (R, in), B (out, R), owner (R,) -> LoRA slot."""

    def __init__(self, runtime: "RuntimeLoras", linear: nn.Linear):
        self.runtime = runtime
        self.down = self.up = self.owner = None
        self.handle = linear.register_forward_hook(self._hook)

    def add(self, pair: LoraPair, slot: int, device: torch.device, dtype: torch.dtype) -> None:
        down, up = pair.down.to(device, dtype), pair.up.to(device, dtype)
        owner = torch.full((down.shape[0],), slot, device=device, dtype=torch.long)
        if self.down is None:
            self.down, self.up, self.owner = down, up, owner
        else:
            self.down = torch.cat((self.down, down))
            self.up = torch.cat((self.up, up), dim=1)
            self.owner = torch.cat((self.owner, owner))

    def drop(self, slot: int) -> bool:
        """Remove a LoRA's ranks; True when nothing is left."""
        keep = self.owner != slot
        self.down, self.up, self.owner = self.down[keep], self.up[:, keep], self.owner[keep]
        return self.owner.numel() == 0

    def _hook(self, module: nn.Module, args: tuple, output: torch.Tensor) -> torch.Tensor:
        x = args[0]
        if self.down.device != x.device:  # the layer was moved (offloading): its LoRAs follow it
            self.down, self.up, self.owner = self.down.to(x.device), self.up.to(x.device), self.owner.to(x.device)
        scales = self.runtime.scales_for(x)[self.owner]
        return output + ((x @ self.down.T) * scales) @ self.up.T


class RuntimeLoras:
    """Unfused LoRAs on a model, each with a scale that can change between calls.

    >>> loras = RuntimeLoras(model)
    >>> loras.add("style", read_lora(path), scale=0.6)
    >>> loras.set_scale("style", 0.9)   # next forward uses 0.9; no weight is touched
    """

    def __init__(self, model: nn.Module):
        self.model = model
        self.dtype = model.dtype if isinstance(getattr(model, "dtype", None), torch.dtype) else next(model.parameters()).dtype
        """The compute dtype LoRA weights are kept in (not an fp8 layer's storage dtype)."""
        self.scales = torch.zeros(0, dtype=torch.float32)
        self._copies: dict[tuple, torch.Tensor] = {}  # the scales on each (device, dtype) a forward used
        self.names: list[str | None] = []  # slot -> name (None once removed)
        self.layers: dict[str, _LayerLoras] = {}

    def add(self, name: str, pairs: dict[str, LoraPair], scale: float = 1.0) -> int:
        """Attach a LoRA; returns how many Linears it touches."""
        if name in self.names:
            raise ValueError(f"LoRA {name!r} is already attached")
        matched = targets(self.model, pairs, name)
        slot = len(self.names)
        self.names.append(name)
        self.scales = torch.cat((self.scales, torch.tensor([float(scale)])))
        self._copies.clear()
        for path, (linear, pair) in matched.items():
            if path not in self.layers:
                self.layers[path] = _LayerLoras(self, linear)
            device = torch.device("cpu") if linear.weight.is_meta else linear.weight.device  # weights not read yet
            self.layers[path].add(pair, slot, device, self.dtype)
        return len(matched)

    def scales_for(self, x: torch.Tensor) -> torch.Tensor:
        """The scales on ``x``'s device and in its dtype (copied once per change, not once per layer)."""
        key = (x.device, x.dtype)
        if key not in self._copies:
            self._copies[key] = self.scales.to(x.device, x.dtype)
        return self._copies[key]

    def set_scale(self, name: str, scale: float) -> None:
        self.scales[self.names.index(name)] = float(scale)
        self._copies.clear()

    def scale(self, name: str) -> float:
        return float(self.scales[self.names.index(name)])

    def remove(self, name: str) -> None:
        slot = self.names.index(name)
        for path in list(self.layers):
            if self.layers[path].drop(slot):
                self.layers.pop(path).handle.remove()
        self.names[slot] = None
        self.scales[slot] = 0.0
        self._copies.clear()

    def clear(self) -> None:
        for name in [n for n in self.names if n is not None]:
            self.remove(name)
