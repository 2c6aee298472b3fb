"""An official checkpoint file: its ``__metadata__`` (``config``, ``model_version``) and its tensors. LTX-2 (19B) and
LTX-2.3 ship one file for every component; LTX-2.5 ships one file per component (transformer with the text
connectors, video VAE, audio VAE with the vocoder), each with only its own ``config`` section(s) and the same key
prefixes as the single file. A loader asks for its component with :meth:`CheckpointFile.require`, so a file that
lacks it fails with a message naming the file and what to pass instead.

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

from .build import CheckpointMismatch
from .lazy import LazyTensor

ARCHITECTURES = ("ltx2", "ltx23", "ltx25")
"""``ltx2``: LTX-2 (19B); ``ltx23``: LTX-2.3 (22B); ``ltx25``: LTX-2.5 (22B, split files)."""

COMPONENTS = {
    "transformer": ("transformer", "model.diffusion_model.patchify_proj.", "transformer"),
    "text connectors": ("transformer", "model.diffusion_model.video_embeddings_connector.", "transformer"),
    "video VAE": ("vae", "vae.", "video VAE"),
    "audio VAE": ("audio_vae", "audio_vae.", "audio VAE"),
    "vocoder": ("vocoder", "vocoder.", "audio VAE"),
}
"""Component -> (its ``config`` section, a tensor prefix it cannot do without, the LTX-2.5 split file that holds it)."""


class MissingComponent(CheckpointMismatch):
    """A file lacks a whole component (typically one of LTX-2.5's split files given where another belongs)."""


class CheckpointConfig(dict):
    """``__metadata__["config"]``: a section the file lacks raises :class:`MissingComponent` naming the file."""

    file = "checkpoint"

    def __missing__(self, section: str):
        component = next((name for name, (own, _, _) in COMPONENTS.items() if own == section), None)
        if component is None:
            raise MissingComponent(f"{self.file} has no {section!r} config section")
        raise MissingComponent(_missing(self.file, component, f"no {section!r} config section"))


def _missing(file: str, component: str, lacks: str) -> str:
    return f"{file} has no {component} ({lacks}): pass the {COMPONENTS[component][2]} file"


def parse_version(text: str | None) -> tuple[int, ...]:
    """``model_version`` as integers, as the reference reads it: ``-`` counts as ``.``, and the parts up to the first
    one that is not a number are kept ("2.5.0" -> (2, 5, 0), "2.5.0rc1" -> (2, 5), unset -> ())."""
    numbers = []
    for part in (text or "").replace("-", ".").split("."):
        if not (part.isascii() and part.isdigit()):
            break
        numbers.append(int(part))
    return tuple(numbers)


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
    def config(self) -> CheckpointConfig:
        """``__metadata__["config"]`` parsed (a JSON string in the official files); {} if absent."""
        raw = self.metadata.get("config")
        config = CheckpointConfig(json.loads(raw) if raw else {})
        config.file = self.path.name
        return config

    @property
    def model_version(self) -> str | None:
        return self.metadata.get("model_version")

    @property
    def version(self) -> tuple[int, ...]:
        """:attr:`model_version` parsed (:func:`parse_version`); () when unset (real 19B files)."""
        return parse_version(self.model_version)

    @property
    def architecture(self) -> str:
        """:func:`detect_architecture` of this file (meaningful for a file holding the transformer)."""
        return detect_architecture(self.config, self.model_version)

    def require(self, component: str) -> dict:
        """The ``config`` section of ``component`` (a key of :data:`COMPONENTS`), after checking that the file holds
        both the section and the component's tensors; else :class:`MissingComponent` naming the file."""
        section, prefix, _ = COMPONENTS[component]
        config = self.config
        if section not in config:
            raise MissingComponent(_missing(self.path.name, component, f"no {section!r} config section"))
        if not any(key.startswith(prefix) for key in self.shapes):
            raise MissingComponent(_missing(self.path.name, component, f"no {prefix}* tensors"))
        return config[section]

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


def detect_architecture(config: dict, model_version: str | None = None) -> str:
    """``ltx25`` when the transformer file's ``model_version`` is 2.5 or later (unversioned: when its transformer
    config has 2.5's keyframes embedding); else ``ltx23`` or ``ltx2`` from the config's flags (real 19B files may
    carry no ``model_version``)."""
    transformer = config.get("transformer", {})
    vocoder = config.get("vocoder", {})
    version = parse_version(model_version)
    if version >= (2, 5) or (not version and transformer.get("use_keyframes_abs_pos_embedding")):
        return "ltx25"
    if transformer.get("cross_attention_adaln") or transformer.get("apply_gated_attention") or "bwe" in vocoder:
        return "ltx23"
    return "ltx2"
