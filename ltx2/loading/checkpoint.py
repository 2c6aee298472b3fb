"""An official single-file checkpoint: its ``__metadata__`` (``config``, ``model_version``) and its tensors.

Tensors are read lazily (memory-mapped) by key prefix, so a component can be loaded straight to its device
and dtype without a second full copy of the file in RAM.
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path

import torch
from safetensors import safe_open

ARCHITECTURES = ("ltx2", "ltx23")
"""``ltx2``: LTX-2 (19B); ``ltx23``: LTX-2.3 (22B)."""


def read_header(path: str | os.PathLike) -> dict:
    """The safetensors JSON header (tensor infos plus ``__metadata__``) without touching the tensor data."""
    with open(path, "rb") as f:
        (length,) = struct.unpack("<Q", f.read(8))
        return json.loads(f.read(length))


class CheckpointFile:
    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        header = read_header(self.path)
        self.metadata: dict[str, str] = header.pop("__metadata__", None) or {}
        self.shapes: dict[str, list[int]] = {k: v["shape"] for k, v in header.items()}
        self.dtypes: dict[str, str] = {k: v["dtype"] for k, v in header.items()}

    @property
    def config(self) -> dict:
        """``__metadata__["config"]`` parsed (a JSON string in the official files); {} if absent."""
        raw = self.metadata.get("config")
        return json.loads(raw) if raw else {}

    @property
    def model_version(self) -> str | None:
        return self.metadata.get("model_version")

    def keys(self, prefix: str = "") -> list[str]:
        return [k for k in self.shapes if k.startswith(prefix)]

    def tensors(self, prefix: str = "", *, strip: bool = True, device="cpu", dtype: torch.dtype | None = None) -> dict[str, torch.Tensor]:
        """Every tensor under ``prefix`` (prefix removed when ``strip``), cast to ``dtype`` if given."""
        out = {}
        with safe_open(str(self.path), framework="pt", device="cpu") as f:
            for key in self.keys(prefix):
                t = f.get_tensor(key)
                if dtype is not None and t.is_floating_point():
                    t = t.to(dtype)
                out[key[len(prefix) :] if strip else key] = t.to(device)
        return out


def detect_architecture(config: dict) -> str:
    """``ltx2`` or ``ltx23`` from the config's flags (real 19B files may carry no ``model_version``)."""
    transformer = config.get("transformer", {})
    vocoder = config.get("vocoder", {})
    if transformer.get("cross_attention_adaln") or transformer.get("apply_gated_attention") or "bwe" in vocoder:
        return "ltx23"
    return "ltx2"
