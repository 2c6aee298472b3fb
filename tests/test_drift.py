import pytest
import torch

from ltx2.chain.drift import latent_stats, pull_toward


def test_full_pull_matches_the_reference_statistics():
    torch.manual_seed(0)
    first = torch.randn(1, 4, 3, 5, 5) * torch.tensor([1.0, 2.0, 0.5, 3.0]).view(1, 4, 1, 1, 1)
    drifted = first * 1.5 + 0.7  # a later chunk whose exposure drifted
    ref = latent_stats(first)
    fixed = pull_toward(drifted, ref, 1.0)
    got = latent_stats(fixed)
    assert torch.allclose(got.mean, ref.mean, atol=1e-5) and torch.allclose(got.std, ref.std, atol=1e-5)
    # an affine drift is undone exactly
    assert torch.allclose(fixed, first, atol=1e-5)


def test_partial_pull_moves_part_of_the_way():
    first = torch.zeros(1, 1, 2, 2, 2)
    first[..., 0, :, :] = -1.0
    first[..., 1, :, :] = 1.0  # mean 0
    later = first + 2.0  # mean 2, same std
    out = pull_toward(later, latent_stats(first), 0.25)
    assert torch.allclose(out.mean(), torch.tensor(1.5))  # 2 + 0.25 * (0 - 2)
    assert pull_toward(later, latent_stats(first), 0.0) is later
    with pytest.raises(ValueError):
        pull_toward(later, latent_stats(first), 1.5)
