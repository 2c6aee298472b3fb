"""An official single-file checkpoint: its ``__metadata__`` (``config``, ``model_version``) and its tensors.

Tensors are read one at a time, straight from the file into a tensor of their own (``read``): no memory map is
kept, so a loaded tensor is the only copy in the process (the OS page cache is not the process's memory), and
a component can be streamed to its device and dtype tensor by tensor (``lazy``) with a peak of the loaded
weights plus one tensor.
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path

import torch

from .lazy import LazyTensor

ARCHITECTURES = ("ltx2", "ltx23")
"""``ltx2``: LTX-2 (19B); ``ltx23``: LTX-2.3 (22B)."""


STORAGE_DTYPES = {
    "F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
    "F8_E4M3": torch.float8_e4m3fn, "F8_E5M2": torch.float8_e5m2,
    "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8, "BOOL": torch.bool,
}  # fmt: skip


def read_header(path: str | os.PathLike) -> dict:
    """The safetensors JSON header (tensor infos plus ``__metadata__``) without touching the tensor data."""
    with open(path, "rb") as f:
        (length,) = struct.unpack("<Q", f.read(8))
        return json.loads(f.read(length))


def _header_length(path: Path) -> int:
    with open(path, "rb") as f:
        return struct.unpack("<Q", f.read(8))[0]


class CheckpointFile:
    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        header = read_header(self.path)
        self.metadata: dict[str, str] = header.pop("__metadata__", None) or {}
        self.shapes: dict[str, list[int]] = {k: v["shape"] for k, v in header.items()}
        self.dtypes: dict[str, str] = {k: v["dtype"] for k, v in header.items()}
        self._offsets: dict[str, tuple[int, int]] = {k: tuple(v["data_offsets"]) for k, v in header.items()}
        self._data_start = 8 + _header_length(self.path)

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

    def storage_dtype(self, key: str) -> torch.dtype:
        try:
            return STORAGE_DTYPES[self.dtypes[key]]
        except KeyError:
            raise ValueError(f"{self.path.name}: {key} is stored as {self.dtypes[key]!r}, which this loader cannot read") from None

    def nbytes(self, key: str) -> int:
        start, end = self._offsets[key]
        return end - start

    def read(self, key: str) -> torch.Tensor:
        """One tensor, read from the file into memory of its own (CPU, as stored)."""
        dtype, shape = self.storage_dtype(key), self.shapes[key]
        start, end = self._offsets[key]
        raw = torch.empty(end - start, dtype=torch.uint8)
        with open(self.path, "rb", buffering=0) as f:
            f.seek(self._data_start + start)
            view, done = memoryview(raw.numpy()), 0
            while done < len(view):
                got = f.readinto(view[done:])
                if not got:
                    raise ValueError(f"{self.path.name}: the file ends inside tensor {key} (truncated download?)")
                done += got
        return raw.view(dtype).reshape(shape)

    def lazy(self, prefix: str = "", *, strip: bool = True) -> dict[str, LazyTensor]:
        """Every tensor under ``prefix`` as a :class:`LazyTensor` (shape and dtype known, data read on ``load``)."""
        return {
            (key[len(prefix) :] if strip else key): LazyTensor(tuple(self.shapes[key]), self.storage_dtype(key), lambda key=key: self.read(key))
            for key in self.keys(prefix)
        }

    def tensors(self, prefix: str = "", *, strip: bool = True, device="cpu", dtype: torch.dtype | None = None) -> dict[str, torch.Tensor]:
        """Every tensor under ``prefix`` (prefix removed when ``strip``), cast to ``dtype`` if given (small
        components; large ones stream through :meth:`lazy`)."""
        out = {}
        for key in self.keys(prefix):
            t = self.read(key)
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
