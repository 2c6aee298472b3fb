"""Latent grids <-> DiT token sequences (patch size 1).

Video (B, C, F, H, W) <-> (B, F*H*W, C), tokens frame-major, then row, then column.
Audio (B, C, T, M) <-> (B, T, C*M), feature index c*M + m.
"""

from __future__ import annotations

import torch


def patchify_video(latent: torch.Tensor) -> torch.Tensor:
    return latent.flatten(2).transpose(1, 2)


def unpatchify_video(tokens: torch.Tensor, frames: int, height: int, width: int) -> torch.Tensor:
    return tokens.transpose(1, 2).unflatten(2, (frames, height, width))


def patchify_audio(latent: torch.Tensor) -> torch.Tensor:
    return latent.transpose(1, 2).flatten(2)


def unpatchify_audio(tokens: torch.Tensor, channels: int) -> torch.Tensor:
    return tokens.unflatten(2, (channels, -1)).transpose(1, 2)
