"""Conditioning by denoise mask: what a token is pinned to, and how firmly.

Strength s gives mask 1 - s (computed in float64, stored in the state's dtype): s = 1 keeps a token exactly at
its clean value (its timestep is 0), s = 0 regenerates it. Every Euler step blends the model's x0 back toward
the clean tokens by the mask, so a token at strength 1 never moves.
"""

from __future__ import annotations

from dataclasses import replace

import torch

from .tokens import TokenState


def _mask_value(strength: float) -> float:
    if not 0.0 <= strength <= 1.0:
        raise ValueError(f"strength must be in [0, 1], got {strength}")
    return float(torch.tensor(1.0, dtype=torch.float64) - strength)


def replace_tokens(state: TokenState, start: int, tokens: torch.Tensor, strength: float) -> TokenState:
    """Pin target tokens [start, start + n) to ``tokens`` (image-to-video, a chain's latent tail).

    Positions stay the target grid's: the tokens are what the output should be at that place.
    """
    end = start + tokens.shape[1]
    if end > state.target_tokens:
        raise ValueError(f"conditioning tokens [{start}, {end}) run past the {state.target_tokens} target tokens")
    clean, mask = state.clean.clone(), state.mask.clone()
    clean[:, start:end] = tokens.to(clean.dtype)
    mask[:, start:end] = _mask_value(strength)
    return replace(state, clean=clean, mask=mask)


def append_tokens(state: TokenState, tokens: torch.Tensor, positions: torch.Tensor, strength: float) -> TokenState:
    """Append conditioning tokens with their own positions (a keyframe at a time); the sampler drops them after."""
    b, n, _ = tokens.shape
    return replace(
        state,
        latent=torch.cat([state.latent, torch.zeros_like(tokens, dtype=state.latent.dtype)], dim=1),
        clean=torch.cat([state.clean, tokens.to(state.clean.dtype)], dim=1),
        mask=torch.cat([state.mask, state.mask.new_full((b, n, 1), _mask_value(strength))], dim=1),
        positions=torch.cat([state.positions, positions.to(state.positions.dtype)], dim=2),
        keyframes=torch.cat([state.keyframes, state.keyframes.new_zeros(b, n)], dim=1),  # given content: unmarked
    )


def keep_before(state: TokenState, clean: torch.Tensor, seconds: float) -> TokenState:
    """Keep tokens that end at or before ``seconds`` exactly as ``clean`` and regenerate the rest.

    Times come from the positions' time axis (axis 0, in seconds): the retake/continuation mechanism, used to
    carry a previous chunk's audio by time.
    """
    ends = state.positions[:, 0, :, 1]  # [B, T]
    regenerate = (ends > seconds).to(state.mask.dtype).unsqueeze(-1)
    return replace(state, clean=clean.to(state.clean.dtype).clone(), mask=regenerate)


def noised(state: TokenState, noise: torch.Tensor, noise_scale: float = 1.0) -> TokenState:
    """The starting tokens: clean where the mask is 0, ``noise_scale`` of the way to noise where it is 1."""
    start = torch.lerp(state.latent, noise.to(state.latent.dtype), noise_scale)
    return replace(state, latent=torch.lerp(state.clean, start, state.mask))
