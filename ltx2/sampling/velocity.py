"""The DiT as the sampler's velocity model: token states in, velocities out, with per-token timesteps.

Without guidance this is one conditional pass. With guidance it adds the passes the guidance needs (negative
prompt, STG perturbation, modality isolation), combines their x0 predictions per modality (``guidance.py``)
and returns the velocity that reproduces the guided x0.
"""

from __future__ import annotations

import torch

from ..model.transformer import (
    ISOLATED,
    AudioVideoTransformer,
    ModalityInput,
    Perturbation,
)
from .guidance import NO_GUIDANCE, Guidance
from .tokens import TokenState


class DiTVelocity:
    def __init__(
        self,
        dit: AudioVideoTransformer,
        video_context: torch.Tensor,
        audio_context: torch.Tensor,
        *,
        negative: tuple[torch.Tensor, torch.Tensor] | None = None,
        guidance: tuple[Guidance, Guidance] = (NO_GUIDANCE, NO_GUIDANCE),
    ):
        self.dit = dit
        self.contexts = (video_context, audio_context)
        self.negative = negative
        self.guidance = guidance
        if any(g.needs_negative for g in guidance) and negative is None:
            raise ValueError("classifier-free guidance needs a negative prompt's contexts")

    @staticmethod
    def _input(state: TokenState, sigma: torch.Tensor, context: torch.Tensor, keyframes: torch.Tensor | None = None) -> ModalityInput:
        b = state.latent.shape[0]
        return ModalityInput(state.latent, sigma * state.mask[..., 0], sigma.expand(b), state.positions, context, keyframes_mask=keyframes)

    def _pass(self, video, audio, sigma, contexts, perturbation: Perturbation | None = None):
        # the first-frame marker is a video feature: audio tokens are never marked
        video_input = self._input(video, sigma, contexts[0], video.keyframes)
        return self.dit(video_input, self._input(audio, sigma, contexts[1]), perturbation)

    def __call__(self, video: TokenState, audio: TokenState, sigma: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        cond = self._pass(video, audio, sigma, self.contexts)
        gv, ga = self.guidance
        if gv == ga == NO_GUIDANCE:
            return cond
        passes = {"cond": cond}
        if gv.needs_negative or ga.needs_negative:
            passes["negative"] = self._pass(video, audio, sigma, self.negative)
        if gv.needs_perturbed or ga.needs_perturbed:
            skip = Perturbation(skip_video_self_attn=gv.stg_blocks, skip_audio_self_attn=ga.stg_blocks)
            passes["perturbed"] = self._pass(video, audio, sigma, self.contexts, skip)
        if gv.needs_isolated or ga.needs_isolated:
            passes["isolated"] = self._pass(video, audio, sigma, self.contexts, ISOLATED)
        out = []
        for m, (state, guidance) in enumerate(((video, gv), (audio, ga))):
            scale = sigma * state.mask.float()  # x0 = x - v * sigma * mask, per token
            x = state.latent.float()
            x0 = {name: x - v[m].float() * scale for name, v in passes.items()}
            guided = guidance.combine(x0["cond"], x0.get("negative"), x0.get("perturbed"), x0.get("isolated"))
            # back to a velocity; pinned tokens (scale 0) keep the conditional one (their x0 is replaced anyway)
            out.append(torch.where(scale > 0, (x - guided) / scale.clamp_min(1e-12), passes["cond"][m].float()))
        return out[0], out[1]
