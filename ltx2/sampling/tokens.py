"""The denoising state of one modality's tokens (latents become tokens with ``ltx2.model.patchify``).

A :class:`TokenState` is what the sampler carries per modality: the current tokens, the clean tokens blended back every step, the per-token denoise mask
(1 = generate, 0 = keep clean; conditioning at strength s has mask 1 - s), the tokens' positions, and how
many leading tokens are the target (tokens after them are appended conditioning, dropped after sampling).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch


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
