"""Drift control: pull each chunk's latent statistics toward the FIRST chunk's.

Colour and exposure drift that compounds from chunk to chunk is the most reported long-video defect.
Matching each chunk's per-channel mean and standard deviation to the previous chunk only follows the drift;
matching them to a fixed reference (the first chunk) stops it. ``factor`` blends between the chunk as
rendered (0) and fully matched (1); 0.1-0.3 keeps intended lighting changes while stopping the slow fade.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class LatentStats:
    mean: torch.Tensor
    """[B, C, 1, 1, 1] per-channel mean over frames and space."""
    std: torch.Tensor
    """[B, C, 1, 1, 1] per-channel standard deviation."""


def latent_stats(latent: torch.Tensor) -> LatentStats:
    """Per-channel statistics of a video latent [B, C, F, H, W]."""
    x = latent.float()
    return LatentStats(x.mean(dim=(2, 3, 4), keepdim=True), x.std(dim=(2, 3, 4), keepdim=True))


def pull_toward(latent: torch.Tensor, reference: LatentStats, factor: float) -> torch.Tensor:
    """AdaIN of ``latent`` toward ``reference`` by ``factor`` in [0, 1]."""
    if not 0.0 <= factor <= 1.0:
        raise ValueError(f"drift factor must be in [0, 1], got {factor}")
    if factor == 0.0:
        return latent
    own = latent_stats(latent)
    matched = (latent.float() - own.mean) / own.std.clamp_min(1e-6) * reference.std + reference.mean
    return torch.lerp(latent.float(), matched, factor).to(latent.dtype)
