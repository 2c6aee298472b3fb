"""Timestep conditioning: sinusoid -> MLP embedding -> AdaLN-single modulation rows.

Sinusoid: 256 channels, f_k = 10000^(-k/128), [cos(t f), sin(t f)] in float32, then cast to the weights'
dtype. ``emb = linear_2(silu(linear_1(sinusoid)))``; ``AdaLNSingle`` returns ``linear(silu(emb))`` with
``rows * dim`` features (each row a shift, scale or gate vector) and ``emb`` itself (the output heads use it).
Key layout: ``emb.timestep_embedder.linear_{1,2}`` and ``linear``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .ops import compute_dtype, layers

SINUSOID_CHANNELS = 256


def timestep_sinusoid(t: torch.Tensor, channels: int = SINUSOID_CHANNELS, max_period: float = 10000.0) -> torch.Tensor:
    """t (N,) -> (N, channels) float32, cos half first."""
    half = channels // 2
    exponent = -math.log(max_period) * torch.arange(half, dtype=torch.float32, device=t.device) / half
    angles = t.to(torch.float32)[:, None] * torch.exp(exponent)[None]
    return torch.cat((torch.cos(angles), torch.sin(angles)), dim=-1)


class TimestepEmbedder(nn.Module):
    """Sinusoid of an (already scaled) timestep, then Linear-SiLU-Linear: t (N,) -> (N, dim)."""

    def __init__(self, dim: int):
        super().__init__()
        self.linear_1 = layers().Linear(SINUSOID_CHANNELS, dim)
        self.linear_2 = layers().Linear(dim, dim)

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        return self.linear_2(F.silu(self.linear_1(timestep_sinusoid(t).to(compute_dtype(self, self.linear_1)))))


class _Embedding(nn.Module):
    def __init__(self, dim: int):
        super().__init__()
        self.timestep_embedder = TimestepEmbedder(dim)


class AdaLNSingle(nn.Module):
    def __init__(self, dim: int, rows: int):
        super().__init__()
        self.rows = rows
        self.emb = _Embedding(dim)
        self.linear = layers().Linear(dim, rows * dim)

    def forward(self, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """t (N,) already scaled (sigma * 1000) -> (modulation (N, rows*dim), emb (N, dim))."""
        emb = self.emb.timestep_embedder(t)
        return self.linear(F.silu(emb)), emb
