"""How chunks are rendered: everything outside the schedule that decides the picture."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Literal

from ..chain.plan import as_fps
from ..errors import InputError
from ..memory.activations import tiling_for_budget
from ..memory.planner import Geometry
from ..model.vae_tiling import VideoTiling
from ..options import HANDOFF_MODES, SAMPLERS
from ..sampling.schedules import DISTILLED_STAGE1, DISTILLED_STAGE2, shifted_sigmas



@dataclass(frozen=True)
class RenderSettings:
    width: int = 768
    height: int = 512
    sigmas: tuple[float, ...] = DISTILLED_STAGE1
    """The sigma schedule (default: the distilled 8 steps; ``full_schedule(steps)`` for the full models)."""
    handoff: Literal["reencode", "latent"] = "reencode"
    """How a chunk's tail reaches the next: its decoded frames re-encoded on the receiver's time axis (slot
    semantics exact), or its latents carried over (causal slot 0 re-encoded from one frame)."""
    drift: float = 0.0
    """Pull each chunk's latent statistics toward the first chunk's by this factor (0 = off)."""
    anchor_continuations: float = 0.0
    """Strength of a soft anchor on chunk 0's first-frame image, added to every continuation at its first frame
    (0 = off, the default). It can hold identity on LTX-2, but it also pulls every chunk back toward the opening
    picture, and LTX-2.3 treats a repeated anchor as a keyframe to reach; prefer the tail handoff alone."""
    tile: VideoTiling | Literal["auto"] | None = "auto"
    """VAE tiling for encode/decode: ``auto`` (the default) sizes tiles to the memory the device has free when the
    chunk is decoded (:meth:`tiling_for`), a :class:`VideoTiling` fixes them, None decodes whole chunks at once."""
    guidance: Literal["auto", "off", "reference"] = "auto"
    """Guidance for chunks whose schedule gives no scale: ``reference`` = the reference pipelines' CFG + STG +
    modality defaults for the model version, ``off`` = one conditional pass, ``auto`` = off on the distilled
    schedules, reference otherwise."""
    sampler: Literal["auto", "euler", "ancestral"] = "auto"
    """The denoise step: ``euler``; ``ancestral`` (ancestral Euler, eta 1: part of each step re-noised with seeded
    noise) on the first stage; ``auto`` = what the reference pipelines use for the loaded model: ancestral on
    LTX-2.5's distilled first stage, Euler everywhere else."""
    two_stage: bool = False
    """Render at half size with ``sigmas``, upsample the latent x2 (the models' spatial upsampler), then refine at
    full size with the distilled stage-2 sigmas, as the reference pipelines do (width and height multiples of 64)."""

    def __post_init__(self):
        step = 64 if self.two_stage else 32
        problems = [
            (name, f"must be a positive multiple of {step}{' for two-stage rendering' if self.two_stage else ''}, got {value}")
            for name, value in (("width", self.width), ("height", self.height))
            if value < step or value % step
        ]
        if self.handoff not in HANDOFF_MODES:
            problems.append(("handoff", f"must be one of {', '.join(HANDOFF_MODES)}, got {self.handoff!r}"))
        if len(self.sigmas) < 2 or self.sigmas[-1] != 0.0:
            problems.append(("sigmas", "must hold at least two values and end at 0"))
        if self.sampler not in SAMPLERS:
            problems.append(("sampler", f"must be {', '.join(SAMPLERS)}, got {self.sampler!r}"))
        if self.guidance not in ("auto", "off", "reference"):
            problems.append(("guidance", f"must be auto, off or reference, got {self.guidance!r}"))
        if not 0.0 <= self.anchor_continuations <= 1.0:
            problems.append(("anchor_continuations", f"must be in [0, 1], got {self.anchor_continuations}"))
        if not 0.0 <= self.drift <= 1.0:
            problems.append(("drift", f"must be in [0, 1], got {self.drift}"))
        problems += _tile_problems(self.tile)
        if problems:
            raise InputError(problems)

    def fingerprint(self) -> str:
        """Every field: an explicit tiling by its sizes, automatic tiling as ``"auto"``."""
        return json.dumps(asdict(self), sort_keys=True, default=str)

    def tiling_for(self, config: dict, frames: int, budget_bytes: int | None, dtype_bytes: int) -> VideoTiling | None:
        """The tiling to decode (and encode) a chunk of ``frames`` pixel frames at this size with.

        An explicit ``tile`` (a tiling or None) as given. ``auto``: with a known ``budget_bytes`` (the device memory
        the decode may use) the largest tiles whose decode fits it, or None when the whole chunk fits
        (:func:`ltx2.memory.activations.tiling_for_budget`; ``config`` is the checkpoint's, ``dtype_bytes`` the
        compute dtype's size); without one, the reference pipelines' default tiles.
        """
        if self.tile != "auto":
            return self.tile
        if budget_bytes is None:
            return VideoTiling.default()
        return tiling_for_budget(config, frames, self.height, self.width, budget_bytes, dtype_bytes)


    def geometry(self, frames: int, tail_frames: int, fps) -> Geometry:
        """What the memory planner needs to know of a render of ``frames``-frame chunks with these settings: a guided
        step runs 4 DiT passes (the reference guidance), an unguided one 1."""
        guided = self.guidance == "reference" or (self.guidance == "auto" and tuple(self.sigmas) not in (DISTILLED_STAGE1, DISTILLED_STAGE2))
        return Geometry(self.width, self.height, frames, tail_frames, 4 if guided else 1, as_fps(fps))


def _tile_problems(tile) -> list[tuple[str, str]]:
    """Why ``tile`` is not ``auto``, None or a tiling the video VAE (8 frames, 32 x 32 px per latent) can use."""
    if tile is None or tile == "auto":
        return []
    if not isinstance(tile, VideoTiling):
        return [("tile", f"must be 'auto', None or a VideoTiling, got {tile!r}")]
    try:
        for axis, factor, name in ((tile.frames, 8, "frames"), (tile.height, 32, "height"), (tile.width, 32, "width")):
            axis.latent(factor, name)
    except ValueError as error:
        return [("tile", str(error))]
    return []


def full_schedule(steps: int) -> tuple[float, ...]:
    """The full (non-distilled) models' shifted schedule with ``steps`` steps."""
    return tuple(float(s) for s in shifted_sigmas(steps))
