"""The Euler flow-matching loop over a sigma schedule, for video and audio tokens together.

Per step, with sigma the schedule value and m the per-token denoise mask:
  x0 = x - v * (sigma * m)                    the model's velocity v turned into a clean estimate
  x0 = x0 * m + clean * (1 - m)               conditioned tokens are pulled back to their clean values
  x  = x + (x - x0) / sigma * (sigma' - sigma)
all in float32. The model sees per-token timesteps sigma * m, so pinned tokens carry timestep 0.

The ancestral variant (LTX-2.5's distilled stage 1) steps further down, to sigma_down, and re-noises back up to
sigma' with fresh noise n (rectified-flow form, alpha = 1 - sigma):
  sigma_down = sigma' * (1 + (sigma' / sigma - 1) * eta)
  x  = Euler step from sigma to sigma_down
  x  = (alpha' / alpha_down) x + n * s_noise * sqrt(max(0, sigma'^2 - (sigma_down * alpha' / alpha_down)^2))
  x  = x * m + clean * (1 - m)                the mask is applied again after the step
A step to sigma' = 0 returns the blended x0 and draws no noise. eta = 0 is the plain Euler step.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable, Protocol

import torch

from .tokens import TokenState


class VelocityModel(Protocol):
    def __call__(self, video: TokenState, audio: TokenState, sigma: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Velocities for all video and audio tokens at schedule value ``sigma`` (per-token timesteps are
        ``sigma * state.mask``)."""


Recorder = Callable[[str, torch.Tensor], None]

StepNoise = Callable[[int, str, torch.Tensor], torch.Tensor]
"""(step index, modality "video" / "audio", current tokens) -> standard normal noise shaped like the tokens, on
their device.
Called once per modality for every step that re-noises, video first."""

ANCESTRAL_SEED_OFFSET = 10000
"""The re-noise generator is seeded with the render's seed plus this (the reference pipelines' convention)."""


def seeded_step_noise(seed: int) -> StepNoise:
    """Re-noise draws as the reference pipelines make them: float32 ``randn`` of the tokens' shape from one CPU
    generator seeded with ``seed + ANCESTRAL_SEED_OFFSET``, moved to the tokens' device."""
    generator = torch.Generator().manual_seed(seed + ANCESTRAL_SEED_OFFSET)

    def draw(step: int, modality: str, latent: torch.Tensor) -> torch.Tensor:
        return torch.randn(latent.shape, generator=generator, dtype=torch.float32).to(latent.device)

    return draw


def to_x0(state: TokenState, velocity: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    return state.latent.float() - velocity.float() * (sigma * state.mask.float())


def blend(state: TokenState, x0: torch.Tensor) -> torch.Tensor:
    mask = state.mask.float()
    return x0 * mask + state.clean.float() * (1 - mask)


def euler_step(latent: torch.Tensor, x0: torch.Tensor, sigma: torch.Tensor, sigma_next: torch.Tensor) -> torch.Tensor:
    x = latent.float()
    return x + (x - x0) / sigma * (sigma_next - sigma)


@dataclass(frozen=True)
class Ancestral:
    """Ancestral Euler: how much of each step is re-noised (``eta``, 0 = plain Euler) and the noise's scale."""

    noise: StepNoise
    eta: float = 1.0
    s_noise: float = 1.0

    def step(self, index: int, modality: str, state: TokenState, x0: torch.Tensor, sigma: torch.Tensor, sigma_next: torch.Tensor) -> torch.Tensor:
        """The tokens after step ``index`` from ``sigma`` to ``sigma_next`` (> 0), given the blended x0."""
        sigma_down = sigma_next * (1 + (sigma_next / sigma - 1) * self.eta)
        rescale = (1 - sigma_next) / (1 - sigma_down)
        renoise = torch.sqrt(torch.clamp(sigma_next**2 - (sigma_down * rescale) ** 2, min=0))
        noise = self.noise(index, modality, state.latent).float()
        x = rescale * euler_step(state.latent, x0, sigma, sigma_down) + noise * self.s_noise * renoise
        return blend(state, x)


def sample(
    model: VelocityModel,
    video: TokenState,
    audio: TokenState,
    sigmas: torch.Tensor,
    on_step: Callable[[int, int], None] | None = None,
    record: Recorder | None = None,
    ancestral: Ancestral | None = None,
) -> tuple[TokenState, TokenState]:
    """Denoise both modalities along ``sigmas`` (float32, ending at 0) with Euler steps, or ancestral ones when
    ``ancestral`` is given; returns the final states."""
    sigmas = sigmas.to(torch.float32)
    values = sigmas.tolist()  # the schedule on the host, read once: the loop branches on it without a device sync
    steps = len(sigmas) - 1
    for i in range(steps):
        sigma, sigma_next = sigmas[i], sigmas[i + 1]
        v_video, v_audio = model(video, audio, sigma)
        states = {}
        for name, state, v in (("video", video, v_video), ("audio", audio, v_audio)):
            x0 = to_x0(state, v, sigma)
            x0_blended = blend(state, x0)
            if ancestral is None:
                latent = euler_step(state.latent, x0_blended, sigma, sigma_next)
            elif values[i + 1] == 0:
                latent = x0_blended  # the ancestral step to 0 draws no noise
            else:
                latent = ancestral.step(i, name, state, x0_blended, sigma, sigma_next)
            if record is not None:
                record(f"{name}_x0_step{i}", x0)
                record(f"{name}_x0_blended_step{i}", x0_blended)
                record(f"{name}_latent_step{i}", latent)
            states[name] = replace(state, latent=latent.to(state.latent.dtype))
        video, audio = states["video"], states["audio"]
        if on_step is not None:
            on_step(i + 1, steps)
    return video, audio
