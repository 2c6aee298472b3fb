"""Latents <-> token sequences, and the denoising state of one modality.

Video latents [B, C, F, H, W] become tokens [B, F*H*W, C] in (f, h, w) order; audio latents [B, C, T, M]
become tokens [B, T, C*M] (feature index c*M + m). A :class:`TokenState` is what the sampler carries per
modality: the current tokens, the clean tokens blended back every step, the per-token denoise mask
(1 = generate, 0 = keep clean; conditioning at strength s has mask 1 - s), the tokens' positions, and how
many leading tokens are the target (tokens after them are appended conditioning, dropped after sampling).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch


def video_to_tokens(latent: torch.Tensor) -> torch.Tensor:
    b, c, f, h, w = latent.shape
    return latent.reshape(b, c, f * h * w).transpose(1, 2)


def tokens_to_video(tokens: torch.Tensor, frames: int, height: int, width: int) -> torch.Tensor:
    b, _, c = tokens.shape
    return tokens.transpose(1, 2).reshape(b, c, frames, height, width)


def audio_to_tokens(latent: torch.Tensor) -> torch.Tensor:
    b, c, t, m = latent.shape
    return latent.permute(0, 2, 1, 3).reshape(b, t, c * m)


def tokens_to_audio(tokens: torch.Tensor, channels: int, mel_bins: int) -> torch.Tensor:
    b, t, _ = tokens.shape
    return tokens.reshape(b, t, channels, mel_bins).permute(0, 2, 1, 3)


@dataclass
class TokenState:
    latent: torch.Tensor
    """[B, T, C] current tokens."""
    clean: torch.Tensor
    """[B, T, C] clean target (conditioning); blended back into x0 where the mask is below 1."""
    mask: torch.Tensor
    """[B, T, 1] denoise mask in [0, 1]."""
    positions: torch.Tensor
    """[B, axes, T, 2] (start, end) bounds of every token, as the transformer takes them."""
    target_tokens: int
    """Tokens [0, target_tokens) are the output; the rest are appended conditioning."""

    @classmethod
    def empty(cls, tokens: torch.Tensor, positions: torch.Tensor) -> TokenState:
        """Everything to be generated: clean zeros, mask 1."""
        b, t, _ = tokens.shape
        return cls(tokens.clone(), torch.zeros_like(tokens), tokens.new_ones(b, t, 1), positions, t)

    def target(self) -> TokenState:
        """The state without appended conditioning tokens."""
        n = self.target_tokens
        return replace(self, latent=self.latent[:, :n], clean=self.clean[:, :n], mask=self.mask[:, :n], positions=self.positions[:, :, :n])
