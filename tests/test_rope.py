"""RoPE layouts: the interleaved (legacy) layout is the split one with another pairing of the inner dims."""

import pytest
import torch

from ltx2.model.rope import rotary_table


def tables(positions, dim, heads, max_pos):
    common = dict(dim=dim, heads=heads, theta=10000.0, max_pos=max_pos, float64_grid=True, midpoint=True, dtype=torch.float64)
    return rotary_table(positions, layout="split", **common), rotary_table(positions, layout="interleaved", **common)


@pytest.mark.parametrize("axes,dim,heads", [(1, 32, 4), (3, 48, 2)])
def test_interleaved_is_split_with_adjacent_pairs(axes, dim, heads):
    torch.manual_seed(0)
    start = torch.rand(2, axes, 7) * 10
    positions = torch.stack((start, start + 1), dim=-1)
    split, interleaved = tables(positions, dim, heads, [20] * axes)
    x = torch.randn(2, 7, dim, dtype=torch.float64)
    # split pairs (i, i + d/2) inside each head; interleaved pairs (2i, 2i+1) of the whole inner dim,
    # with angles dealt in the same order. Map one pairing onto the other and compare.
    half = dim // heads // 2
    per_head = x.view(2, 7, heads, 2, half).transpose(-1, -2).reshape(2, 7, dim)  # split -> interleaved order
    rotated_split = split.rotate(x).view(2, 7, heads, 2, half).transpose(-1, -2).reshape(2, 7, dim)
    torch.testing.assert_close(interleaved.rotate(per_head), rotated_split)


def test_rotation_keeps_norms_and_depends_on_position_differences():
    positions = torch.tensor([[[0.0, 3.0, 5.5, 8.5]]])  # (B=1, axes=1, T=4), plain points
    table = rotary_table(positions, dim=16, heads=2, theta=10000.0, max_pos=[20], layout="split", float64_grid=True, midpoint=False, dtype=torch.float64)
    q = torch.randn(1, 1, 16, dtype=torch.float64).expand(1, 4, 16)
    k = torch.randn(1, 1, 16, dtype=torch.float64).expand(1, 4, 16)
    rq, rk = table.rotate(q), table.rotate(k)
    torch.testing.assert_close(rq.norm(dim=-1), q.norm(dim=-1))
    # per head, <R(p) q, R(p') k> depends on p - p' only: (0, 3) and (5.5, 8.5) are 3 apart.
    dots = (rq.view(1, 4, 2, 8)[:, :, None] * rk.view(1, 4, 2, 8)[:, None]).sum(-1)  # (1, Tq, Tk, heads)
    # (angles are float32 like the reference's, so up to ~1e-3 rad off at the highest frequencies)
    torch.testing.assert_close(dots[0, 0, 1], dots[0, 2, 3], rtol=1e-3, atol=1e-3)
    assert not torch.allclose(dots[0, 0, 1], dots[0, 0, 2], rtol=1e-3, atol=1e-3)
