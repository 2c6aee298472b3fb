"""Sigma schedules of LTX-2 / LTX-2.3, as float32 tensors exactly as the reference computes them.

* Distilled models use fixed lists: 8 steps for stage 1, 3 steps for the stage-2 refine (whose first value is
  also the noise scale the upsampled latent is re-noised with).
* The full models use a shifted schedule: ``linspace(1, 0)`` pushed toward high noise by a shift that grows
  linearly with the token count (1024 tokens -> 0.95, 4096 -> 2.05), then stretched so the last non-zero sigma
  is ``terminal``. The official pipelines never pass a latent, so they always use 4096 tokens.
"""

from __future__ import annotations

import math

import torch

DISTILLED_STAGE1 = (1.0, 0.99375, 0.9875, 0.98125, 0.975, 0.909375, 0.725, 0.421875, 0.0)
DISTILLED_STAGE2 = (0.909375, 0.725, 0.421875, 0.0)

_SHIFT_TOKENS = (1024, 4096)


def distilled_sigmas(stage: int = 1) -> torch.Tensor:
    return torch.tensor(DISTILLED_STAGE1 if stage == 1 else DISTILLED_STAGE2, dtype=torch.float32)


def shifted_sigmas(
    steps: int,
    tokens: int = 4096,
    max_shift: float = 2.05,
    base_shift: float = 0.95,
    terminal: float = 0.1,
    stretch: bool = True,
) -> torch.Tensor:
    """The full model's schedule: ``steps + 1`` float32 sigmas from about 1 down to 0."""
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    t = torch.linspace(1.0, 0.0, steps + 1)  # float32, like the reference
    slope = (max_shift - base_shift) / (_SHIFT_TOKENS[1] - _SHIFT_TOKENS[0])
    shift = tokens * slope + (base_shift - slope * _SHIFT_TOKENS[0])
    e = math.exp(shift)
    sigmas = torch.where(t != 0, e / (e + (1 / t - 1)), torch.zeros_like(t))
    if stretch:
        live = sigmas != 0
        distance = 1.0 - sigmas[live]
        sigmas[live] = 1.0 - distance / (distance[-1] / (1.0 - terminal))
    return sigmas
