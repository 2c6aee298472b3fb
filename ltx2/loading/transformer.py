"""Load the DiT and the two text connectors from an official checkpoint (the single file, or LTX-2.5's split
transformer file, which holds both under the same prefix), streamed tensor by tensor.

DiT: every key under ``model.diffusion_model.`` except the connectors', prefix stripped, strict.
Connectors: ``model.diffusion_model.{video,audio}_embeddings_connector.``, strict.

fp8 files (``*-fp8.safetensors``): block Linears are stored as ``float8_e4m3fn`` with a scalar
``<linear>.weight_scale`` sibling (2.3 also ``<linear>.input_scale``, the activation scale for fp8 matmuls).
``weights`` decides what the model holds in memory:

* ``auto`` (default): as the file. fp8 Linears stay fp8 (:class:`Fp8Linear`, about 1 byte per parameter,
  dequantised inside each forward); everything else in the compute dtype.
* ``fp8``: every Linear of the transformer blocks in fp8; a bf16 file is quantised at load (per tensor).
* ``full``: everything in the compute dtype; fp8 weights dequantised at load (``float32(W) * weight_scale``).

Fused LoRAs (``W + s * B @ A``, float32) are applied to each weight as it streams in, before any quantisation,
so a component re-read from the file (the low-RAM offload) comes back identical.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import torch
from torch import nn

from ..model.connector import ConnectorConfig, EmbeddingsConnector
from ..model.fp8_linear import dequantize
from ..model.ops import fp8_linear_class
from ..model.transformer import CONNECTOR_PREFIXES, AudioVideoTransformer
from ..options import WEIGHT_MODES
from .build import build_on_meta, load_into
from .checkpoint import CheckpointFile
from .lazy import LazyTensor, quantized_at_load
from .lora import read_lora, targets

DIT_PREFIX = "model.diffusion_model."
FP8_STORED = ("F8_E4M3", "F8_E5M2")
SCALE_SUFFIXES = (".weight_scale", ".input_scale")
BLOCKS = "transformer_blocks."


def _is_connector(key: str) -> bool:
    return key.startswith(CONNECTOR_PREFIXES)


class DitWeights:
    """How each tensor of one component of an LTX checkpoint reaches memory: ``state`` maps module keys to
    :class:`LazyTensor` reads with the dequantise / fuse / quantise steps the chosen ``weights`` mode needs."""

    def __init__(self, ckpt: CheckpointFile, prefix: str, model: nn.Module, weights: str = "auto", deltas: dict[str, list[tuple[float, object]]] | None = None):
        if weights not in WEIGHT_MODES:
            raise ValueError(f"weights must be one of {', '.join(WEIGHT_MODES)}, got {weights!r}")
        self.ckpt, self.prefix, self.weights = ckpt, prefix, weights
        self.deltas = deltas or {}
        self.kept_fp8 = self._fp8_layers(model)
        for path in self.kept_fp8:
            parent, _, name = path.rpartition(".")
            owner = model.get_submodule(parent) if parent else model
            input_scale = self.ckpt.shapes.get(f"{prefix}{path}.input_scale")
            setattr(owner, name, fp8_linear_class().like(getattr(owner, name), scale_shape=self._scale_shape(path), input_scale_shape=None if input_scale is None else tuple(input_scale)))

    def _stored_fp8(self, path: str) -> bool:
        return self.ckpt.dtypes.get(f"{self.prefix}{path}.weight") in FP8_STORED

    def _scale_shape(self, path: str) -> tuple[int, ...]:
        """The file's own scale shape for a stored fp8 layer, else (1,) for a scale made at load."""
        stored = self.ckpt.shapes.get(f"{self.prefix}{path}.weight_scale") if self._stored_fp8(path) else None
        return (1,) if stored is None else tuple(stored)

    def _fp8_layers(self, model: nn.Module) -> set[str]:
        if self.weights == "full":
            return set()
        layers = set()
        for path, module in model.named_modules():
            if not isinstance(module, nn.Linear):
                continue
            stored_e4m3 = self.ckpt.dtypes.get(f"{self.prefix}{path}.weight") == "F8_E4M3"
            if stored_e4m3 or (self.weights == "fp8" and path.startswith(BLOCKS)):
                layers.add(path)
        return layers

    def state(self, keys: Sequence[str]) -> dict[str, LazyTensor]:
        """Module key -> lazy read, for the file keys ``keys`` (all under ``prefix``)."""
        state: dict[str, LazyTensor] = {}
        for file_key in keys:
            key = file_key[len(self.prefix) :]
            path, _, leaf = key.rpartition(".")
            if key.endswith(SCALE_SUFFIXES):
                kept_as_stored = path in self.kept_fp8 and self._stored_fp8(path)
                if kept_as_stored and (leaf == "input_scale" or not self.deltas.get(path)):
                    state[key] = self.ckpt.lazy(file_key, strip=False)[file_key]
                continue  # otherwise folded into the weight, replaced by a re-quantisation's, or unused
            raw = self.ckpt.lazy(file_key, strip=False)[file_key]
            state.update(self._weight(path, key, raw) if leaf == "weight" else {key: raw})
        return state

    def _weight(self, path: str, key: str, raw: LazyTensor) -> dict[str, LazyTensor]:
        """The weight's lazy read, and its new scale when it is (re-)quantised at load."""
        stored_fp8, keep = self._stored_fp8(path), path in self.kept_fp8
        deltas = self.deltas.get(path, [])
        if (stored_fp8 and keep and not deltas) or not (stored_fp8 or keep or deltas):
            return {key: raw}
        if stored_fp8 and f"{self.prefix}{path}.weight_scale" not in self.ckpt.shapes:
            raise ValueError(f"{self.ckpt.path.name}: fp8 tensor {self.prefix}{path}.weight has no {self.prefix}{path}.weight_scale sibling")

        def full() -> torch.Tensor:  # float32, dequantised and with the fused LoRAs
            w = raw.load()
            w = dequantize(w, self.ckpt.read(f"{self.prefix}{path}.weight_scale"), torch.float32) if stored_fp8 else w.to(torch.float32)
            for strength, pair in deltas:
                w = w + strength * (pair.up.to(torch.float32) @ pair.down.to(torch.float32))
            return w

        weight = LazyTensor(raw.shape, torch.float32, full)
        if not keep:
            return {key: weight}
        fp8, scale = quantized_at_load(weight, self._scale_shape(path))
        return {key: fp8, f"{path}.weight_scale": scale}


def _fused_deltas(model: nn.Module, loras: Sequence[tuple[str | os.PathLike, float]]) -> dict[str, list]:
    deltas: dict[str, list] = {}
    for path, strength in loras:
        for module_path, (_, pair) in targets(model, read_lora(path), str(path)).items():
            deltas.setdefault(module_path, []).append((strength, pair))
    return deltas


def dit_file_keys(ckpt: CheckpointFile) -> list[str]:
    return [k for k in ckpt.keys(DIT_PREFIX) if not _is_connector(k[len(DIT_PREFIX) :])]


def transformer_weights(ckpt: CheckpointFile, weights: str = "auto", loras: Sequence[tuple[str | os.PathLike, float]] = ()) -> tuple[AudioVideoTransformer, dict[str, LazyTensor]]:
    """The DiT built on meta (its fp8 Linears swapped in per ``weights``) and its lazy state."""
    ckpt.require("transformer")
    model = build_on_meta(lambda: AudioVideoTransformer.from_config(ckpt.config))
    plan = DitWeights(ckpt, DIT_PREFIX, model, weights, _fused_deltas(model, loras))
    return model, plan.state(dit_file_keys(ckpt))


def load_transformer(
    ckpt: CheckpointFile,
    *,
    device="cpu",
    dtype: torch.dtype = torch.bfloat16,
    loras: Sequence[tuple[str | os.PathLike, float]] = (),
    weights: str = "auto",
    defer: bool = False,
) -> AudioVideoTransformer:
    """The DiT built from ``ckpt.config`` on meta and streamed strictly to ``device`` / ``dtype``.

    ``loras``: (file, strength) pairs fused into the weights (e.g. the distilled LoRA of stage 2);
    ``weights``: ``auto`` / ``fp8`` / ``full`` (module docstring); ``defer``: read the weights on first use.
    """
    model, state = transformer_weights(ckpt, weights, loras)
    return load_into(model, state, device=device, dtype=dtype, what=f"transformer ({ckpt.path.name})", defer=defer)


def load_text_connectors(ckpt: CheckpointFile, *, device="cpu", dtype: torch.dtype = torch.bfloat16) -> tuple[EmbeddingsConnector, EmbeddingsConnector]:
    """(video connector, audio connector) built from ``ckpt.config["transformer"]`` (fp8 weights dequantised)."""
    t = ckpt.require("text connectors")
    connectors = []
    for name, audio in (("video", False), ("audio", True)):
        prefix = f"{DIT_PREFIX}{name}_embeddings_connector."
        module = build_on_meta(lambda: EmbeddingsConnector(ConnectorConfig.from_config(t, audio=audio)))
        state = DitWeights(ckpt, prefix, module, "full").state(ckpt.keys(prefix))
        connectors.append(load_into(module, state, device=device, dtype=dtype, what=f"{name} text connector ({ckpt.path.name})"))
    return connectors[0], connectors[1]
