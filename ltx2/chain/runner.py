"""The chain runner: drives a plan through a chunk renderer and stitches the result exactly.

Per chunk it resolves the schedule (changes only ever apply here, between chunks), reuses the chunk from the
run directory when its key matches or renders it (checking for cancel at every denoise step), saves it,
decodes it, and writes the frames and audio the plan keeps to the sink. Any failure, cancel included, aborts
the sink so no output appears under its final name, while the chunks already saved stay for a resume.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable, Protocol

import torch

from ..host import ChainCancelled, Host
from ..media.sink import MediaSink
from .events import (
    ChainFailed,
    ChainFinished,
    ChainStarted,
    ChunkFinished,
    ChunkStarted,
    DenoiseStep,
    Stitching,
)
from .plan import ChainPlan, ChunkPlan, sample_at_frame
from .schedule import ChunkParams, ChunkSchedule
from .store import ChunkRecord, RunStore, chunk_key


@dataclass(frozen=True)
class ChunkJob:
    """One chunk to render: its place in the plan and its resolved parameters."""

    plan: ChainPlan
    chunk: ChunkPlan
    params: ChunkParams

    @property
    def index(self) -> int:
        return self.chunk.index


@dataclass
class ChunkMedia:
    """A decoded chunk: all ``job.chunk.frames`` frames [F, H, W, 3] and the audio of the same span [C, S]."""

    frames: torch.Tensor
    audio: torch.Tensor | None = None
    sample_rate: int | None = None


StepCallback = Callable[[int, int], None]
"""``on_step(done, total)``: called by a renderer after every denoise step; raises to cancel."""


class ChunkRenderer(Protocol):
    def fingerprint(self) -> str:
        """Identity of everything outside the schedule that decides the output (model, size, steps...)."""

    def render(self, job: ChunkJob, handoff: dict[str, torch.Tensor] | None, on_step: StepCallback) -> ChunkRecord:
        """Denoise one chunk, conditioned on the previous chunk's ``handoff`` (None for chunk 0).

        Returns the chunk's latents and, unless it is the last chunk, the handoff for the next one (e.g.
        ``video_latents``, ``audio_latents``, ``frames`` of the tail). Must be deterministic in its inputs:
        resume relies on it.
        """

    def decode(self, job: ChunkJob, latents: dict[str, torch.Tensor]) -> ChunkMedia:
        """Turn a chunk's latents into frames and audio (deterministic)."""

    # optional: ``prepare(jobs)`` is called once before the first chunk a run renders, with every chunk still to
    # render (e.g. to encode all their prompts while the text encoder is loaded)


@dataclass
class ChainRun:
    """What :meth:`ChainRunner.run` returns."""

    output: object
    """Whatever the sink's ``commit`` returned."""
    rendered: list[int]
    """Chunks rendered in this run; the others were resumed from the run directory."""


class ChainRunner:
    def __init__(self, renderer: ChunkRenderer, host: Host, run_dir=None):
        self.renderer = renderer
        self.host = host
        self.store = RunStore(run_dir) if run_dir is not None else None

    def run(self, plan: ChainPlan, schedule: ChunkSchedule, sink: MediaSink | None) -> ChainRun:
        """Render ``plan``. With a sink, each chunk is decoded and its kept part stitched into the sink (the run's
        output is what the sink's commit returns); with none, chunks are only rendered and the output is the list
        of their latents (for callers that want latents, such as a single-clip sampler)."""
        host, n = self.host, len(plan.chunks)
        began = time.perf_counter()
        params = [schedule.resolve(i, plan) for i in range(n)]
        fingerprint = self.renderer.fingerprint()
        if self.store is not None:
            self.store.write_manifest(
                {"plan": plan.to_dict(), "schedule": schedule.model_dump(mode="json"), "renderer": fingerprint}
            )
        host.emit(ChainStarted(n, plan.total_frames, float(plan.fps), schedule.check(plan)))
        rendered: list[int] = []
        current: int | None = None
        key = ""
        handoff = None
        latents: list[dict[str, torch.Tensor]] = []
        if sink is not None:
            sink.open(plan.fps, plan.total_frames)
        try:
            for chunk, p in zip(plan.chunks, params):
                current = chunk.index
                t0 = time.perf_counter()
                host.check_cancel()
                job = ChunkJob(plan, chunk, p)
                key = chunk_key(key, self._deciding_fields(plan, chunk, p, fingerprint))
                record = self.store.load(chunk.index, key) if self.store is not None else None
                host.emit(ChunkStarted(chunk.index, n, record is not None, p.prompt))
                if record is None:
                    if not rendered and hasattr(self.renderer, "prepare"):  # e.g. every prompt encoded up front
                        self.renderer.prepare([ChunkJob(plan, c, q) for c, q in zip(plan.chunks[chunk.index :], params[chunk.index :])])
                    record = self.renderer.render(job, handoff, self._on_step(chunk.index, n, sink))
                    if self.store is not None:
                        self.store.save(chunk.index, key, record)
                    rendered.append(chunk.index)
                host.check_cancel()
                if sink is None:
                    latents.append(record.latents)
                else:
                    media = self.renderer.decode(job, record.latents)
                    host.emit(Stitching(chunk.index, chunk.keep))
                    self._stitch(plan, chunk, media, sink)
                handoff = record.handoff
                last = media.frames[chunk.frames - chunk.end_trim - 1] if sink is not None else None
                host.emit(
                    ChunkFinished(
                        chunk.index, n, chunk.index not in rendered, chunk.keep[1], plan.total_frames, time.perf_counter() - t0, last
                    )
                )
            output = sink.commit() if sink is not None else latents
        except BaseException as error:
            if sink is not None:
                sink.abort()
            cancelled = isinstance(error, ChainCancelled)
            host.emit(ChainFailed(current, cancelled, str(error) or type(error).__name__))
            raise
        host.emit(ChainFinished(n, plan.total_frames, len(rendered), time.perf_counter() - began))
        return ChainRun(output, rendered)

    def _on_step(self, index: int, chunks: int, sink: MediaSink | None) -> StepCallback:
        def on_step(done: int, total: int) -> None:
            self.host.check_cancel()
            if sink is not None:
                sink.check()
            self.host.emit(DenoiseStep(index, chunks, done, total))

        return on_step

    @staticmethod
    def _deciding_fields(plan: ChainPlan, chunk: ChunkPlan, params: ChunkParams, fingerprint: str) -> dict:
        # ``keep`` is left out: it only decides what is stitched, not what is rendered
        return {
            "renderer": fingerprint,
            "fps": str(plan.fps),
            "start": chunk.start,
            "frames": chunk.frames,
            "tail_in": plan.tail_frames if chunk.index else 0,
            "tail_out": chunk.tail_frames,
            "crossfade": plan.crossfade,
            "params": params.to_dict(),
        }

    @staticmethod
    def _stitch(plan: ChainPlan, chunk: ChunkPlan, media: ChunkMedia, sink: MediaSink) -> None:
        if media.frames.shape[0] != chunk.frames:
            raise RuntimeError(f"chunk {chunk.index}: the renderer returned {media.frames.shape[0]} frames, the plan needs {chunk.frames}")
        frames = media.frames[chunk.head_trim : chunk.frames - chunk.end_trim]
        audio = None
        if media.audio is not None:
            # cut by time: the samples where the kept frames begin and end, on the absolute timeline
            rate = media.sample_rate
            origin = sample_at_frame(chunk.start, plan.fps, rate)
            a = sample_at_frame(chunk.keep[0], plan.fps, rate) - origin
            b = sample_at_frame(chunk.keep[1], plan.fps, rate) - origin
            audio = media.audio[..., a:b]
            short = b - a - audio.shape[-1]
            if short > math.ceil(rate / plan.fps):
                raise RuntimeError(
                    f"chunk {chunk.index}: the renderer returned {media.audio.shape[-1]} audio samples, "
                    f"the chunk's {chunk.frames} frames need {sample_at_frame(chunk.end, plan.fps, rate) - origin}"
                )
            if short > 0:  # a vocoder may come up a few samples short of a frame boundary: pad with silence
                audio = torch.nn.functional.pad(audio, (0, short))
        sink.write(sink.prepare(frames, audio), media.sample_rate)
