"""Where a chain's stitched output goes, chunk by chunk.

The runner opens a sink, writes each chunk's kept frames and audio in order, then commits it; on any
failure (cancel included) it aborts it instead, and an aborted sink leaves no finished output behind.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from fractions import Fraction
from typing import Protocol

import torch

log = logging.getLogger(__name__)


@dataclass
class ChainMedia:
    """A whole stitched video in memory: frames [F, H, W, 3] and audio [C, S] at ``sample_rate``."""

    frames: torch.Tensor
    fps: Fraction
    audio: torch.Tensor | None
    sample_rate: int | None


class MediaSink(Protocol):
    def open(self, fps: Fraction, total_frames: int) -> None: ...

    def check(self) -> None:
        """Raise if the sink has failed (a background encoder); called at every denoise step."""

    def prepare(self, frames: torch.Tensor, audio: torch.Tensor | None) -> tuple:
        """A piece, frames [f, H, W, 3] and the audio of the same span [C, s] (or None), converted to what this
        sink stores, as a copy it owns: the caller may reuse its buffers. Runs on the caller's thread."""

    def write(self, piece: tuple, sample_rate: int | None) -> None:
        """Append the next prepared piece."""

    def commit(self) -> object:
        """Finish the output and return it (or where it is)."""

    def abort(self) -> None:
        """Drop everything written; no finished output may remain."""


class MemorySink:
    """Collects the stitched video in memory; ``commit`` returns a :class:`ChainMedia`.

    Holding a whole video is an explicit choice (a ComfyUI IMAGE output needs it): a warning is logged when
    the estimated size passes ``warn_bytes``. Prefer a file sink for long videos.
    """

    def __init__(self, warn_bytes: int = 8 * 2**30):
        self.warn_bytes = warn_bytes
        self._total_frames = 0
        self._fps: Fraction | None = None
        self._frames: list[torch.Tensor] = []
        self._audio: list[torch.Tensor] = []
        self._sample_rate: int | None = None

    def open(self, fps: Fraction, total_frames: int) -> None:
        self._fps, self._total_frames = fps, total_frames
        self._frames, self._audio, self._sample_rate = [], [], None

    def check(self) -> None:
        return None

    def prepare(self, frames: torch.Tensor, audio: torch.Tensor | None) -> tuple:
        return frames.detach().to("cpu", copy=True), None if audio is None else audio.detach().to("cpu", copy=True)

    def write(self, piece: tuple, sample_rate: int | None) -> None:
        frames, audio = piece
        if not self._frames and len(frames):
            estimate = frames[0].numel() * frames.element_size() * self._total_frames
            if estimate > self.warn_bytes:
                log.warning(
                    "holding the whole video in memory: about %.1f GiB of frames; write to a file instead to stay "
                    "within one chunk of memory",
                    estimate / 2**30,
                )
        self._frames.append(frames)
        if audio is not None:
            if self._sample_rate not in (None, sample_rate):
                raise ValueError(f"audio sample rate changed from {self._sample_rate} to {sample_rate} mid-chain")
            self._sample_rate = sample_rate
            self._audio.append(audio)

    def commit(self) -> ChainMedia:
        if self._fps is None or not self._frames:
            raise RuntimeError("nothing was written to this sink")
        audio = torch.cat(self._audio, dim=-1) if self._audio else None
        return ChainMedia(torch.cat(self._frames), self._fps, audio, self._sample_rate)

    def abort(self) -> None:
        self._frames, self._audio = [], []


class TeeSink:
    """Feeds several sinks the same pieces (say an MP4 file and an in-memory copy); commits or aborts them all."""

    def __init__(self, *sinks: MediaSink):
        self.sinks = sinks

    def open(self, fps: Fraction, total_frames: int) -> None:
        for s in self.sinks:
            s.open(fps, total_frames)

    def check(self) -> None:
        for s in self.sinks:
            s.check()

    def prepare(self, frames: torch.Tensor, audio: torch.Tensor | None) -> tuple:
        return tuple(s.prepare(frames, audio) for s in self.sinks)

    def write(self, piece: tuple, sample_rate: int | None) -> None:
        for s, p in zip(self.sinks, piece):
            s.write(p, sample_rate)

    def commit(self) -> tuple:
        done = []
        try:
            for s in self.sinks:
                done.append(s.commit())
        except BaseException:
            for s in self.sinks[len(done) + 1 :]:
                s.abort()
            raise
        return tuple(done)

    def abort(self) -> None:
        for s in self.sinks:
            s.abort()
