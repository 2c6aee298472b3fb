"""Rotary position embedding (RoPE) over fractional positions, as LTX-2 uses it everywhere.

A table is built once per forward call from token positions (B, axes, T, 2) = [start, end) bounds per
axis (or (B, axes, T) plain positions) and shared by every block:

* position per axis = the bound midpoint (``midpoint=True``, the DiT) or the start (connectors),
  divided by that axis' ``max_pos``; angle = omega_k * (2 p - 1);
* omega_k = (pi/2) * theta ** (k / (n - 1)), k < n = dim // (2 * axes), built in float64 when the
  config says ``frequencies_precision: float64`` and then cast to float32;
* angles are ordered frequency-major, axis-minor, and identity slots (cos 1, sin 0) pad the front.

Two layouts rotate q/k (after q/k RMSNorm, on the full inner dim):

* ``split`` (all released checkpoints): the dim/2 angles are dealt to heads in order, head h gets
  slots [h*d/2, (h+1)*d/2); inside a head, x = [x1 | x2] -> [x1 cos - x2 sin | x2 cos + x1 sin].
* ``interleaved`` (legacy): each angle covers an adjacent pair (2i, 2i+1) of the inner dim.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

LAYOUTS = ("split", "interleaved")


def frequency_grid(theta: float, num_axes: int, dim: int, float64: bool) -> torch.Tensor:
    """omega_k for k < dim // (2 * num_axes), float32 (computed in float64 when asked)."""
    n = dim // (2 * num_axes)
    work = torch.float64 if float64 else torch.float32
    omega = theta ** torch.linspace(0.0, 1.0, n, dtype=work)
    return (omega * math.pi / 2).to(torch.float32) if float64 else (omega.to(torch.float32) * math.pi / 2)


@dataclass(frozen=True)
class RotaryTable:
    """cos/sin for one token sequence. split: (B, T, heads, head_dim/2); interleaved: (B, T, inner)."""

    cos: torch.Tensor
    sin: torch.Tensor
    layout: str

    def rotate(self, x: torch.Tensor) -> torch.Tensor:
        """Rotate x (B, T, inner)."""
        if self.layout == "split":
            b, t, inner = x.shape
            heads = self.cos.shape[2]
            xh = x.view(b, t, heads, inner // heads)
            x1, x2 = xh.chunk(2, dim=-1)
            out = torch.cat((x1 * self.cos - x2 * self.sin, x2 * self.cos + x1 * self.sin), dim=-1)
            return out.view(b, t, inner)
        pairs = x.unflatten(-1, (-1, 2))
        rotated = torch.stack((-pairs[..., 1], pairs[..., 0]), dim=-1).flatten(-2)
        return x * self.cos + rotated * self.sin

    def per_head(self) -> tuple[torch.Tensor, torch.Tensor]:
        """split tables in the (B, heads, T, head_dim/2) layout the reference reports."""
        return self.cos.transpose(1, 2), self.sin.transpose(1, 2)


def rotary_table(
    positions: torch.Tensor,
    *,
    dim: int,
    heads: int,
    theta: float,
    max_pos: list[int] | tuple[int, ...],
    layout: str,
    float64_grid: bool,
    midpoint: bool,
    dtype: torch.dtype,
) -> RotaryTable:
    """The table for ``positions`` (B, axes, T, 2) bounds or (B, axes, T) points, cast to ``dtype``."""
    if layout not in LAYOUTS:
        raise ValueError(f"unknown rope_type {layout!r}; expected one of {LAYOUTS}")
    if positions.ndim == 4:
        positions = (positions[..., 0] + positions[..., 1]) / 2.0 if midpoint else positions[..., 0]
    positions = positions.to(torch.float32)
    num_axes = positions.shape[1]
    if num_axes != len(max_pos):
        raise ValueError(f"positions have {num_axes} axes but max_pos has {len(max_pos)}")
    fractions = torch.stack([positions[:, a] / max_pos[a] for a in range(num_axes)], dim=-1)  # (B, T, A)
    omega = frequency_grid(theta, num_axes, dim, float64_grid).to(positions.device)
    angles = (omega * (fractions.unsqueeze(-1) * 2 - 1)).transpose(-1, -2).flatten(2)  # (B, T, n*A)
    cos, sin = angles.cos(), angles.sin()
    b, t = cos.shape[:2]
    if layout == "split":
        pad = dim // 2 - cos.shape[-1]
        cos = torch.cat((cos.new_ones(b, t, pad), cos), dim=-1).view(b, t, heads, -1)
        sin = torch.cat((sin.new_zeros(b, t, pad), sin), dim=-1).view(b, t, heads, -1)
    else:
        pad = dim % (2 * num_axes)
        cos = torch.cat((cos.new_ones(b, t, pad), cos.repeat_interleave(2, dim=-1)), dim=-1)
        sin = torch.cat((sin.new_zeros(b, t, pad), sin.repeat_interleave(2, dim=-1)), dim=-1)
    return RotaryTable(cos.to(dtype), sin.to(dtype), layout)
