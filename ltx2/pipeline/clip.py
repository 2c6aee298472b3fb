"""One clip, no chain: latents of a single video with sound, for callers that decode and save themselves.

A clip is the only chunk of a one-chunk plan, rendered by the chunk renderer exactly as a chain renders its
first chunk: the prompt, seed and guidance come from a schedule, a first-frame image is that chunk's "first"
anchor. Nothing is decoded and nothing is written; the caller gets the latents.
"""

from __future__ import annotations

from fractions import Fraction

import torch

from ..chain.plan import (
    MAX_CLIP_FRAMES,
    MIN_CLIP_FRAMES,
    PlanError,
    is_valid_length,
    make_plan,
)
from ..chain.runner import ChainRunner
from ..chain.schedule import Anchor, ChunkSchedule
from ..host import Host, StandaloneHost
from .models import LTXModels
from .renderer import LTXChunkRenderer
from .settings import RenderSettings

FIRST_FRAME = "first_frame"
"""The name the first-frame image goes by in the clip's schedule."""


def render_clip(
    models: LTXModels,
    settings: RenderSettings,
    *,
    frames: int,
    fps: float | Fraction,
    prompt: str = "",
    negative_prompt: str = "",
    seed: int = 0,
    guidance: float | None = None,
    first_frame: torch.Tensor | None = None,
    first_frame_strength: float = 1.0,
    host: Host | None = None,
) -> dict[str, torch.Tensor]:
    """Render one clip of ``frames`` (8k+1) frames at ``settings``' size.

    ``guidance``: a CFG scale on both modalities (None: ``settings.guidance``); ``first_frame``: an image
    [H, W, 3] or [N, H, W, 3] (the first is used) in 0..1, fitted to the size and pinned to frame 0 at
    ``first_frame_strength``. Returns normalised latents (float32, CPU): ``video`` [1, C, (frames-1)/8+1,
    H/32, W/32] and ``audio`` [1, z, T, 16] with T audio latents covering the clip.
    """
    if not (MIN_CLIP_FRAMES <= frames <= MAX_CLIP_FRAMES and is_valid_length(frames)):
        raise PlanError("frames", f"{frames} is not 8k+1 frames from {MIN_CLIP_FRAMES} to {MAX_CLIP_FRAMES} (e.g. 97, 121)")
    plan = make_plan(fps=fps, clip_frames=frames, tail_frames=1, total_frames=frames)  # one chunk, no handoff
    anchors = [] if first_frame is None else [Anchor(chunk=0, image=FIRST_FRAME, position="first", strength=first_frame_strength)]
    schedule = ChunkSchedule(prompt=prompt, negative_prompt=negative_prompt, seed=seed, guidance=guidance, anchors=anchors)
    renderer = LTXChunkRenderer(models, settings, None if first_frame is None else {FIRST_FRAME: first_frame})
    (latents,) = ChainRunner(renderer, host or StandaloneHost(models.device)).run(plan, schedule, None).output
    return latents
