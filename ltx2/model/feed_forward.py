"""Feed-forward: Linear(D -> mult*D) -> tanh GELU -> Linear(mult*D -> D); keys ``net.0.proj`` and ``net.2``."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .ops import layers


class _ProjectIn(nn.Module):
    def __init__(self, dim: int, inner: int, bias: bool):
        super().__init__()
        self.proj = layers().Linear(dim, inner, bias=bias)


class FeedForward(nn.Module):
    def __init__(self, dim: int, mult: int = 4, bias: bool = True):
        super().__init__()
        # net.1 is an identity in the checkpoints' module tree and holds no weights.
        self.net = nn.ModuleList([_ProjectIn(dim, dim * mult, bias), nn.Identity(), layers().Linear(dim * mult, dim, bias=bias)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net[2](F.gelu(self.net[0].proj(x), approximate="tanh"))
