"""Guidance on x0 predictions: CFG, STG and modality guidance, with optional rescale (per modality).

  pred = c + (cfg - 1)(c - u_neg) + stg (c - u_perturbed) + (modality - 1)(c - u_isolated)

where c is the conditional x0, u_neg the x0 with the negative prompt, u_perturbed with self-attention skipped
in ``stg_blocks`` (spatio-temporal guidance), u_isolated with the audio<->video cross-attention skipped in every
block. Rescale pulls the result's standard deviation (over the whole tensor) back toward c's:
pred *= rescale * std(c) / std(pred) + (1 - rescale). Distilled models use no guidance (one pass).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Guidance:
    cfg: float = 1.0
    stg: float = 0.0
    stg_blocks: tuple[int, ...] = ()
    rescale: float = 0.0
    modality: float = 1.0

    @property
    def needs_negative(self) -> bool:
        return self.cfg != 1.0

    @property
    def needs_perturbed(self) -> bool:
        return self.stg != 0.0 and bool(self.stg_blocks)

    @property
    def needs_isolated(self) -> bool:
        return self.modality != 1.0

    def combine(
        self,
        cond: torch.Tensor,
        negative: torch.Tensor | None = None,
        perturbed: torch.Tensor | None = None,
        isolated: torch.Tensor | None = None,
    ) -> torch.Tensor:
        pred = cond
        if self.needs_negative:
            pred = pred + (self.cfg - 1) * (cond - negative)
        if self.needs_perturbed:
            pred = pred + self.stg * (cond - perturbed)
        if self.needs_isolated:
            pred = pred + (self.modality - 1) * (cond - isolated)
        if self.rescale and pred is not cond:
            factor = cond.std() / pred.std()
            pred = pred * (self.rescale * factor + (1 - self.rescale))
        return pred


NO_GUIDANCE = Guidance()


def default_guidance(arch: str) -> tuple[Guidance, Guidance]:
    """(video, audio) guidance of the full (non-distilled) models, per the reference pipelines' defaults."""
    blocks = (29,) if arch == "ltx2" else (28,)  # LTX-2.5 takes LTX-2.3's parameters
    return (
        Guidance(cfg=3.0, stg=1.0, stg_blocks=blocks, rescale=0.7, modality=3.0),
        Guidance(cfg=7.0, stg=1.0, stg_blocks=blocks, rescale=0.7, modality=3.0),
    )
