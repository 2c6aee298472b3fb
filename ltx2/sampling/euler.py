"""The Euler flow-matching loop over a sigma schedule, for video and audio tokens together.

Per step, with sigma the schedule value and m the per-token denoise mask:
  x0 = x - v * (sigma * m)                    the model's velocity v turned into a clean estimate
  x0 = x0 * m + clean * (1 - m)               conditioned tokens are pulled back to their clean values
  x  = x + (x - x0) / sigma * (sigma' - sigma)
all in float32. The model sees per-token timesteps sigma * m, so pinned tokens carry timestep 0.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Callable, Protocol

import torch

from .tokens import TokenState


class VelocityModel(Protocol):
    def __call__(self, video: TokenState, audio: TokenState, sigma: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Velocities for all video and audio tokens at schedule value ``sigma`` (per-token timesteps are
        ``sigma * state.mask``)."""


Recorder = Callable[[str, torch.Tensor], None]


def to_x0(state: TokenState, velocity: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    return state.latent.float() - velocity.float() * (sigma * state.mask.float())


def blend(state: TokenState, x0: torch.Tensor) -> torch.Tensor:
    mask = state.mask.float()
    return x0 * mask + state.clean.float() * (1 - mask)


def euler_step(latent: torch.Tensor, x0: torch.Tensor, sigma: torch.Tensor, sigma_next: torch.Tensor) -> torch.Tensor:
    x = latent.float()
    return x + (x - x0) / sigma * (sigma_next - sigma)


def sample(
    model: VelocityModel,
    video: TokenState,
    audio: TokenState,
    sigmas: torch.Tensor,
    on_step: Callable[[int, int], None] | None = None,
    record: Recorder | None = None,
) -> tuple[TokenState, TokenState]:
    """Denoise both modalities along ``sigmas`` (float32, ending at 0); returns the final states."""
    sigmas = sigmas.to(torch.float32)
    steps = len(sigmas) - 1
    for i in range(steps):
        sigma, sigma_next = sigmas[i], sigmas[i + 1]
        v_video, v_audio = model(video, audio, sigma)
        states = {}
        for name, state, v in (("video", video, v_video), ("audio", audio, v_audio)):
            x0 = to_x0(state, v, sigma)
            x0_blended = blend(state, x0)
            latent = euler_step(state.latent, x0_blended, sigma, sigma_next)
            if record is not None:
                record(f"{name}_x0_step{i}", x0)
                record(f"{name}_x0_blended_step{i}", x0_blended)
                record(f"{name}_latent_step{i}", latent)
            states[name] = replace(state, latent=latent.to(state.latent.dtype))
        video, audio = states["video"], states["audio"]
        if on_step is not None:
            on_step(i + 1, steps)
    return video, audio
