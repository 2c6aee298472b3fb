"""The denoising state of one modality's tokens (latents become tokens with ``ltx2.model.patchify``).

A :class:`TokenState` is what the sampler carries per modality: the current tokens, the clean tokens blended back
every step, the per-token denoise mask (1 = generate, 0 = keep clean; conditioning at strength s has mask 1 - s),
the tokens' positions, how many leading tokens are the target (tokens after them are appended conditioning,
dropped after sampling), and the first-frame marker.

The marker (LTX-2.5's ``keyframes_mask``) flags the tokens of a video's latent frame 0: the causal VAE encodes
that frame from a single pixel frame, so the DiT adds a learned embedding to those tokens. Every render marks
its latent frame 0, conditioned or not (a continuation's frame 0 is the handed-over tail's first latent);
given-content tokens appended as conditioning are never marked. Models without the embedding ignore it.
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
    keyframes: torch.Tensor
    """[B, T] first-frame marker: 1 on the tokens of latent frame 0, else 0 (the DiT reads it for video only)."""

    @classmethod
    def empty(cls, tokens: torch.Tensor, positions: torch.Tensor, first_frame_tokens: int = 0) -> TokenState:
        """Everything to be generated: clean zeros, mask 1; the first ``first_frame_tokens`` tokens are marked
        (a video's latent frame 0: height x width tokens; 0 for audio)."""
        b, t, _ = tokens.shape
        if not 0 <= first_frame_tokens <= t:
            raise ValueError(f"cannot mark {first_frame_tokens} first-frame tokens of {t}")
        keyframes = tokens.new_zeros(b, t)
        keyframes[:, :first_frame_tokens] = 1
        return cls(tokens.clone(), torch.zeros_like(tokens), tokens.new_ones(b, t, 1), positions, t, keyframes)

    def target(self) -> TokenState:
        """The state without appended conditioning tokens."""
        n = self.target_tokens
        return replace(
            self,
            latent=self.latent[:, :n],
            clean=self.clean[:, :n],
            mask=self.mask[:, :n],
            positions=self.positions[:, :, :n],
            keyframes=self.keyframes[:, :n],
        )
