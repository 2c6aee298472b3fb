"""Load the DiT and the two text connectors from an official single-file checkpoint.

DiT: every key under ``model.diffusion_model.`` except the connectors', prefix stripped, strict.
Connectors: ``model.diffusion_model.{video,audio}_embeddings_connector.``, strict.

fp8 files (``*-fp8.safetensors``): block Linears are stored as ``float8_e4m3fn`` with a scalar
``<linear>.weight_scale`` sibling (2.3 also ``<linear>.input_scale``, the activation scale for fp8 matmuls).
They are **dequantised at load**: ``W = float32(W_fp8) * weight_scale``, then cast to the requested dtype;
``input_scale`` is dropped (we never quantise activations). The model in memory is therefore the same
size as a bf16 load; what the fp8 file saves is disk and read time.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import torch

from ..model.connector import ConnectorConfig, EmbeddingsConnector
from ..model.transformer import CONNECTOR_PREFIXES, AudioVideoTransformer
from .build import build_on_meta, load_into
from .checkpoint import CheckpointFile
from .lora import fuse_lora, read_lora

DIT_PREFIX = "model.diffusion_model."
FP8_DTYPES = (torch.float8_e4m3fn, torch.float8_e5m2)


def dequantize_fp8(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Fold ``*.weight_scale`` into fp8 weights (float32 result) and drop the scale siblings."""
    out = {}
    for key, value in state.items():
        if key.endswith((".weight_scale", ".input_scale")):
            continue
        scale = state.get(key + "_scale") if key.endswith(".weight") else None
        if value.dtype in FP8_DTYPES:
            if scale is None:
                raise ValueError(f"fp8 tensor {key} has no {key}_scale sibling")
            value = value.to(torch.float32) * scale.to(torch.float32)
        elif scale is not None:
            raise ValueError(f"{key}_scale given for a {value.dtype} tensor")
        out[key] = value
    return out


def _is_connector(key: str) -> bool:
    return key.startswith(CONNECTOR_PREFIXES)


def transformer_state(ckpt: CheckpointFile, device="cpu") -> dict[str, torch.Tensor]:
    """The DiT's tensors as stored (prefix stripped, connectors left out, fp8 dequantised to float32)."""
    # Read module by module so the connectors' (large, 2.3) tensors are never read here.
    heads = sorted({k[len(DIT_PREFIX):].split(".", 1)[0] for k in ckpt.keys(DIT_PREFIX) if not _is_connector(k[len(DIT_PREFIX):])})
    state: dict[str, torch.Tensor] = {}
    for head in heads:
        leaf = DIT_PREFIX + head
        if leaf in ckpt.shapes:
            state.update(ckpt.tensors(leaf, strip=False, device=device))
        state.update(ckpt.tensors(leaf + ".", strip=False, device=device))
    return dequantize_fp8({k[len(DIT_PREFIX):]: v for k, v in state.items()})


def load_transformer(
    ckpt: CheckpointFile,
    *,
    device="cpu",
    dtype: torch.dtype = torch.bfloat16,
    loras: Sequence[tuple[str | os.PathLike, float]] = (),
) -> AudioVideoTransformer:
    """The DiT built from ``ckpt.config`` on meta and loaded strictly to ``device`` / ``dtype``.

    ``loras``: (file, strength) pairs fused into the weights (e.g. the distilled LoRA of stage 2).
    """
    model = build_on_meta(lambda: AudioVideoTransformer.from_config(ckpt.config))
    model = load_into(model, transformer_state(ckpt, device), device=device, dtype=dtype, what="transformer")
    for path, strength in loras:
        fuse_lora(model, read_lora(path), strength, source=str(path))
    return model


def load_text_connectors(ckpt: CheckpointFile, *, device="cpu", dtype: torch.dtype = torch.bfloat16) -> tuple[EmbeddingsConnector, EmbeddingsConnector]:
    """(video connector, audio connector) built from ``ckpt.config["transformer"]``."""
    t = ckpt.config["transformer"]
    connectors = []
    for name, audio in (("video", False), ("audio", True)):
        prefix = f"{DIT_PREFIX}{name}_embeddings_connector."
        module = build_on_meta(lambda: EmbeddingsConnector(ConnectorConfig.from_config(t, audio=audio)))
        state = dequantize_fp8(ckpt.tensors(prefix, device=device))
        connectors.append(load_into(module, state, device=device, dtype=dtype, what=f"{name} text connector"))
    return connectors[0], connectors[1]
