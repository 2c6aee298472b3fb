"""One call that renders a chain with the LTX-2 model: streaming MP4 output, optional in-memory media, resume, media
to follow."""

from __future__ import annotations

import os

import torch

from ..chain.plan import ChainPlan
from ..chain.runner import ChainRun, ChainRunner
from ..chain.schedule import ChunkSchedule
from ..errors import InputError
from ..host import Host, StandaloneHost
from ..media.background import BackgroundSink
from ..media.mp4 import Mp4Writer
from ..media.sink import MediaSink, MemorySink, TeeSink
from .guides import MediaGuides
from .models import LTXModels
from .renderer import LTXChunkRenderer
from .settings import RenderSettings


def render_chain(
    models: LTXModels,
    settings: RenderSettings,
    plan: ChainPlan,
    schedule: ChunkSchedule,
    *,
    images: dict[str, torch.Tensor] | None = None,
    out_path: str | os.PathLike | None = None,
    keep_partial: bool = False,
    run_dir: str | os.PathLike | None = None,
    return_media: bool = False,
    host: Host | None = None,
    crf: int = 18,
    guides: MediaGuides | None = None,
) -> ChainRun:
    """Render ``plan`` per ``schedule``. ``out_path``: an MP4 written chunk by chunk in the background;
    ``return_media``: also keep frames and audio in memory (``ChainMedia``). ``run.output`` is the path, the
    media, or (path, media) when both were asked for. ``run_dir`` makes the run resumable. ``guides``: a soundtrack
    the chain follows and delivers, a source video it restyles (checked against the plan before anything renders)."""
    guides = guides or MediaGuides()
    problems = guides.problems(plan, schedule)
    if problems:
        raise InputError(problems)
    sinks: list[MediaSink] = []
    if out_path is not None:
        sinks.append(BackgroundSink(Mp4Writer(out_path, crf=crf, keep_partial=keep_partial)))
    if return_media or not sinks:
        sinks.append(MemorySink())
    sink = sinks[0] if len(sinks) == 1 else TeeSink(*sinks)
    runner = ChainRunner(LTXChunkRenderer(models, settings, images, guides), host or StandaloneHost(models.device), run_dir)
    return runner.run(plan, schedule, sink)
