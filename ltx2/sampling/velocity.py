"""The DiT as the sampler's velocity model: token states in, velocities out, with per-token timesteps."""

from __future__ import annotations

import torch

from ..model.transformer import AudioVideoTransformer, ModalityInput, Perturbation
from .tokens import TokenState


class DiTVelocity:
    """One conditional pass of the DiT (no guidance) with fixed text contexts."""

    def __init__(self, dit: AudioVideoTransformer, video_context: torch.Tensor, audio_context: torch.Tensor, perturbation: Perturbation | None = None):
        self.dit = dit
        self.video_context = video_context
        self.audio_context = audio_context
        self.perturbation = perturbation

    def _input(self, state: TokenState, sigma: torch.Tensor, context: torch.Tensor) -> ModalityInput:
        b = state.latent.shape[0]
        return ModalityInput(state.latent, sigma * state.mask[..., 0], sigma.expand(b), state.positions, context)

    def __call__(self, video: TokenState, audio: TokenState, sigma: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.dit(self._input(video, sigma, self.video_context), self._input(audio, sigma, self.audio_context), self.perturbation)
