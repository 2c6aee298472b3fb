"""Normalisations shared by the DiT and the text connectors.

The blocks normalise without a weight (``norm_elementwise_affine`` is false in every config); q/k
normalisation inside attention has a learned weight and is a plain ``torch.nn.RMSNorm``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def rms_norm(x: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """RMS-normalise over the last dim, no weight."""
    return F.rms_norm(x, (x.shape[-1],), eps=eps)


def layer_norm(x: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """LayerNorm over the last dim, no affine (the DiT's output heads use this, not RMS)."""
    return F.layer_norm(x, (x.shape[-1],), eps=eps)
