"""An official checkpoint file: its ``__metadata__`` (``config``, ``model_version``) and its tensors. LTX-2 (19B) and
LTX-2.3 ship one file for every component; LTX-2.5 ships one file per component (transformer with the text
connectors, video VAE, audio VAE with the vocoder), each with only its own ``config`` section(s) and the same key
prefixes as the single file. A loader asks for its component with :meth:`CheckpointFile.require`, so a file that
lacks it fails with a message naming the file and what to pass instead.

The header is never trusted: its length, every tensor's offsets and byte count (shape x dtype) are checked
against the file before anything is read, and a file that is not a sound safetensors file (a Git LFS pointer, an
HTML page, a pickle, a truncated download, a damaged header or ``config``) raises one :class:`CheckpointMismatch`
naming the file and what to do.

Tensors are read one at a time, straight from the file into a tensor of their own (``read``): no memory map is
kept, so a loaded tensor is the only copy in the process (the OS page cache is not the process's memory), and
a component can be streamed to its device and dtype tensor by tensor (``lazy``) with a peak of the loaded
weights plus one tensor.
"""

from __future__ import annotations

import copy
import itertools
import json
import math
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


MAX_HEADER = 100_000_000  # bytes; the safetensors format's own limit
ITEM_BYTES = {
    "BOOL": 1, "U8": 1, "I8": 1, "F8_E4M3": 1, "F8_E5M2": 1, "F8_E8M0": 1, "I16": 2, "U16": 2, "F16": 2, "BF16": 2,
    "I32": 4, "U32": 4, "F32": 4, "I64": 8, "U64": 8, "F64": 8, "C64": 8,
}  # fmt: skip
"""Bytes per element of the safetensors dtypes whose size is a whole number of bytes (the byte count is checked)."""
LTX_SECTIONS = ("transformer", "vae", "audio_vae", "vocoder")


class MissingFile(CheckpointMismatch, FileNotFoundError):
    """A model file (or folder) that is not there: a :class:`CheckpointMismatch` that is also a FileNotFoundError."""


def _what_it_looks_like(head: bytes) -> str:
    """What a file that is not safetensors seems to be, from its first bytes, with what to do about it."""
    text = head.lstrip().lower()
    if text.startswith(b"version https://git-lfs"):
        return "looks like a Git LFS pointer, not the file itself: fetch the real file (git lfs pull, or download it from the model page)"
    if text.startswith((b"<!doctype html", b"<html", b"<?xml")) or b"<html" in text:
        return "looks like an HTML page (a login or error page saved by the download): download the file itself"
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05") or head.startswith(b"PK\x03\x04"):
        return "looks like a pickle (PyTorch .pt/.bin/.ckpt): use the .safetensors release of the model"
    if head.startswith(b"GGUF"):
        return "looks like a GGUF file: use the .safetensors release of the model"
    try:
        decoded = head.decode("utf-8")
    except UnicodeDecodeError as e:
        decoded = head[: e.start].decode("utf-8") if e.start >= len(head) - 3 else None  # a character cut at the end
    if decoded is not None and all(c.isprintable() or c in "\t\r\n" for c in decoded):
        return "looks like text: use the .safetensors model file"
    return "its first bytes are no safetensors header: use the .safetensors model file"


def _not_safetensors(path: Path, head: bytes) -> CheckpointMismatch:
    return CheckpointMismatch(f"{path}: not a .safetensors file ({_what_it_looks_like(head)})")


def _truncated(path: Path, needs: int, size: int) -> CheckpointMismatch:
    return CheckpointMismatch(f"{path}: truncated: the file is {size} bytes, but its header describes {needs} (an incomplete download? download it again)")


def _open_header(path: Path) -> tuple[dict, int]:
    """(validated header, offset of the tensor data); every fault is a :class:`CheckpointMismatch` naming ``path``."""
    if not path.exists():
        raise MissingFile(f"{path}: no such file: check the path")
    if path.is_dir():
        raise CheckpointMismatch(f"{path}: is a folder, not a .safetensors file: give the file itself")
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            head = f.read(1024)
            length = struct.unpack("<Q", head[:8])[0] if len(head) >= 8 else None
            if size == 0:
                raise CheckpointMismatch(f"{path}: is empty (0 bytes): download it again")
            if length is None:
                raise CheckpointMismatch(f"{path}: not a .safetensors file (only {size} bytes: truncated, or not a model file)")
            if not (2 <= length <= MAX_HEADER and head[8:9] in (b"{", b"")):
                raise _not_safetensors(path, head)
            if 8 + length > size:
                raise _truncated(path, 8 + length, size)
            f.seek(8)
            raw = f.read(length)
    except OSError as e:
        raise CheckpointMismatch(f"{path}: cannot be read ({e.strerror or e})") from None
    try:
        header = json.loads(raw.decode("utf-8"))  # an object: the first byte is "{"
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise CheckpointMismatch(f"{path}: not a .safetensors file (its header is not valid JSON: {str(e)[:200]})") from None
    _check_entries(path, header, size - 8 - length, size)
    return header, 8 + length


def _is_tensor_entry(entry) -> bool:
    """``{"dtype": str, "shape": [int >= 0, ...], "data_offsets": [start, end]}`` with 0 <= start <= end."""
    if not isinstance(entry, dict):
        return False
    dtype, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
    whole = lambda n: type(n) is int and n >= 0  # JSON true/false are not sizes
    return (
        isinstance(dtype, str) and isinstance(shape, list) and all(map(whole, shape))
        and isinstance(offsets, list) and len(offsets) == 2 and all(map(whole, offsets)) and offsets[0] <= offsets[1]
    )  # fmt: skip


def _check_entries(path: Path, header: dict, data_size: int, size: int) -> None:
    """Every tensor entry well formed, its bytes inside the file, matching its shape and dtype, and not overlapping another."""
    metadata = header.get("__metadata__")
    if metadata is not None and not (isinstance(metadata, dict) and all(isinstance(v, str) for v in metadata.values())):
        raise CheckpointMismatch(f"{path}: its header's __metadata__ is not a map of strings (a damaged or non-standard file)")
    spans = []
    for key, entry in header.items():
        if key == "__metadata__":
            continue
        if not _is_tensor_entry(entry):
            raise CheckpointMismatch(f"{path}: its header's entry for {key[:200]!r} is not a tensor (dtype, shape, data_offsets): a damaged file")
        shape, (start, end) = entry["shape"], entry["data_offsets"]
        if end > data_size:
            raise _truncated(path, size - data_size + end, size)
        item = ITEM_BYTES.get(entry["dtype"])
        if item is not None and math.prod(shape) * item != end - start:
            raise CheckpointMismatch(f"{path}: tensor {key} ({entry['dtype']} {shape}) needs {math.prod(shape) * item} bytes, but its header gives it {end - start}: a damaged file")
        spans.append((start, end, key))
    spans.sort()
    for (_, end, before), (start, _, key) in itertools.pairwise(spans):
        if start < end:
            raise CheckpointMismatch(f"{path}: tensors {before} and {key} overlap in the file: a damaged file")


def read_header(path: str | os.PathLike) -> dict:
    """The safetensors JSON header (tensor infos plus ``__metadata__``) without touching the tensor data, after
    checking it against the file; a file that is not a sound safetensors file raises :class:`CheckpointMismatch`."""
    return _open_header(Path(path))[0]


def _parse_config(path: Path, raw: str | None) -> dict:
    """``__metadata__["config"]`` as a JSON object whose LTX component sections are objects; {} if absent."""
    if not raw:
        return {}
    try:
        config = json.loads(raw)
    except (ValueError, RecursionError) as e:
        raise CheckpointMismatch(f"{path}: its config metadata is not valid JSON ({str(e)[:200]}): a damaged or non-LTX file") from None
    if not isinstance(config, dict):
        raise CheckpointMismatch(f"{path}: its config metadata is not a JSON object: a damaged or non-LTX file")
    bad = [s for s in LTX_SECTIONS if s in config and not isinstance(config[s], dict)]
    if bad:
        raise CheckpointMismatch(f"{path}: its config metadata is not a JSON object of sections ({bad[0]!r} is not an object): a damaged or non-LTX file")
    return config


def what_it_is(keys: list[str] | dict) -> str | None:
    """What a safetensors file that holds no LTX-2 component seems to be, from its tensor names; None if LTX-like."""
    if any(k.startswith(("model.diffusion_model.", "vae.", "audio_vae.", "vocoder.")) for k in keys):
        return None
    if any(".lora_A." in k or ".lora_B." in k or ".lora_down." in k or ".lora_up." in k for k in keys):
        return "a LoRA"
    if any(k.endswith("embed_tokens.weight") for k in keys):
        return "a Gemma text encoder"
    if any(k.startswith("post_upsample_res_blocks.") for k in keys):
        return "a latent upsampler"
    return "another model's file"


class CheckpointFile:
    """A safetensors file, its header checked against the file (:func:`read_header`); every fault of the file is a
    :class:`CheckpointMismatch` naming it."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        header, self._data_start = _open_header(self.path)
        self.metadata: dict[str, str] = header.pop("__metadata__", None) or {}
        self.shapes: dict[str, list[int]] = {k: v["shape"] for k, v in header.items()}
        self.dtypes: dict[str, str] = {k: v["dtype"] for k, v in header.items()}
        self._offsets: dict[str, tuple[int, int]] = {k: tuple(v["data_offsets"]) for k, v in header.items()}
        self._config = _parse_config(self.path, self.metadata.get("config"))

    @property
    def config(self) -> CheckpointConfig:
        """``__metadata__["config"]`` parsed (a JSON string in the official files); {} if absent."""
        config = CheckpointConfig(copy.deepcopy(self._config))
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
        section, prefix, split_file = COMPONENTS[component]
        config = self.config
        other = None if any(s in config for s in LTX_SECTIONS) else what_it_is(self.shapes)
        if other is not None:
            raise MissingComponent(f"{self.path.name} is {other}, not an LTX-2 checkpoint (no {component}): pass the LTX-2 {split_file} file or single-file checkpoint")
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
            raise CheckpointMismatch(f"{self.path.name}: {key} is stored as {self.dtypes[key]!r}, which this loader cannot read") from None

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
                    raise CheckpointMismatch(f"{self.path}: the file ends inside tensor {key}: it changed or was cut short since it was opened; download it again")
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
