"""Load a latent upsampler from its own official file (flat ``config`` metadata, no key prefix)."""

from __future__ import annotations

import torch

from ..model.upsampler import LatentUpsampler, UpsamplerConfig
from .build import build_on_meta, load_into
from .checkpoint import CheckpointFile


def load_latent_upsampler(ckpt: CheckpointFile, *, device="cpu", dtype: torch.dtype | None = None) -> LatentUpsampler:
    cfg = UpsamplerConfig.from_checkpoint_config(ckpt.config)
    module = build_on_meta(lambda: LatentUpsampler(cfg))
    return load_into(module, ckpt.lazy(), device=device, dtype=dtype, what=f"latent upsampler {ckpt.path.name}")
