"""The chain plan: every frame count and frame index of a chunked LTX-2 video, in one place.

LTX-2's video VAE is causal and compresses time 8x: latent frame 0 holds one pixel frame, every later
latent frame holds eight, so clip lengths are 8k+1 pixel frames and a clip of F pixel frames has
(F-1)/8 + 1 latent frames.

A chain renders chunks of ``clip_frames`` pixel frames. Every chunk after the first starts ``tail_frames``
before the end of the previous one and is conditioned on that tail; it then drops exactly those frames, so
each chunk contributes ``clip_frames - tail_frames`` new frames. The tail is itself 8m+1 frames, so on the
receiving chunk's time axis it fills latent slots 0..m exactly: slot 0 (the causal single-frame slot) holds
the tail's first frame and slots 1..m its remaining 8m frames, which are also whole latent frames at the end
of the previous chunk. The last chunk is rendered at the shortest valid length that reaches the requested
total, and the few frames past the total are cut.

All of this is integer math; times in seconds are exact fractions of the frame rate.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from fractions import Fraction

from ..errors import InputError

FRAMES_PER_LATENT = 8
"""Pixel frames per latent frame, after the causal first latent frame (which holds one)."""

MIN_CLIP_FRAMES = 9
MAX_CLIP_FRAMES = 1025
MAX_TOTAL_FRAMES = 2_000_000
MIN_FPS = 1
MAX_FPS = 240
DEFAULT_MAX_CHUNKS = 200


class PlanError(InputError):
    """A chain plan that cannot be made, naming the offending input."""

    def __init__(self, field: str, message: str):
        super().__init__([(field, message)])


def is_valid_length(frames: int) -> bool:
    """True for pixel lengths the causal VAE accepts: 8k+1."""
    return frames >= 1 and (frames - 1) % FRAMES_PER_LATENT == 0


def latent_frames(pixel_frames: int) -> int:
    """Latent frames of a clip of ``pixel_frames`` (8k+1) pixel frames."""
    if not is_valid_length(pixel_frames):
        raise ValueError(f"{pixel_frames} pixel frames is not 8k+1")
    return (pixel_frames - 1) // FRAMES_PER_LATENT + 1


def pixel_frames(latent_count: int) -> int:
    """Pixel frames held by ``latent_count`` latent frames (the inverse of :func:`latent_frames`)."""
    if latent_count < 1:
        raise ValueError(f"{latent_count} latent frames: need at least 1")
    return (latent_count - 1) * FRAMES_PER_LATENT + 1


def round_up_to_valid(frames: int) -> int:
    """The shortest 8k+1 length holding at least ``frames`` frames."""
    return pixel_frames(max(1, math.ceil((frames - 1) / FRAMES_PER_LATENT) + 1))


def _neighbours(frames: int) -> str:
    below = pixel_frames(max(1, (frames - 1) // FRAMES_PER_LATENT + 1))
    above = round_up_to_valid(frames)
    return f"{below} or {above}" if below != above else str(above)


_FPS_TEXT = re.compile(r"\s*\d{1,9}(\.\d{0,12})?(/\d{1,9})?\s*")


def as_fps(fps: int | float | str | Fraction) -> Fraction:
    """An exact frame rate from 24, 23.976..., "24000/1001" or a Fraction; 1 <= fps <= 240."""
    try:
        if isinstance(fps, str) and not _FPS_TEXT.fullmatch(fps):  # Fraction("1e99999999") would take forever
            raise ValueError(fps)
        value = Fraction(fps) if not isinstance(fps, float) else Fraction(fps).limit_denominator(1001)
    except (ValueError, ZeroDivisionError, TypeError, OverflowError):
        raise PlanError("fps", f"{fps!r} is not a frame rate; give a number such as 24 or 24000/1001") from None
    if not MIN_FPS <= value <= MAX_FPS:
        raise PlanError("fps", f"{fps} is out of range; use a frame rate from {MIN_FPS} to {MAX_FPS}")
    return value


def frames_for_seconds(seconds: float | Fraction, fps: Fraction) -> int:
    """The frame nearest to ``seconds`` at ``fps`` (halves round up)."""
    exact = Fraction(seconds) * fps
    return math.floor(exact + Fraction(1, 2))


def sample_at_frame(frame: int, fps: Fraction, sample_rate: int) -> int:
    """The audio sample where pixel frame ``frame`` begins (halves round up).

    Audio is cut at these positions, so chunk boundaries on the audio track land on the same wall-clock
    times as on the video track and the pieces tile the whole track.
    """
    exact = Fraction(frame) * sample_rate / fps
    return math.floor(exact + Fraction(1, 2))


@dataclass(frozen=True)
class ChunkPlan:
    """One chunk of the chain. Frame numbers are absolute pixel frames of the output timeline."""

    index: int
    start: int
    """First rendered frame."""
    frames: int
    """Rendered frames (8k+1)."""
    keep: tuple[int, int]
    """Half-open range of output frames this chunk contributes."""
    tail_frames: int
    """Frames at the end of this chunk handed to the next one (0 for the last chunk)."""

    @property
    def end(self) -> int:
        """One past the last rendered frame."""
        return self.start + self.frames

    @property
    def latent_frames(self) -> int:
        return latent_frames(self.frames)

    @property
    def head_trim(self) -> int:
        """Rendered frames dropped at the start: the previous chunk's tail."""
        return self.keep[0] - self.start

    @property
    def end_trim(self) -> int:
        """Rendered frames dropped at the end (only the last chunk drops any)."""
        return self.end - self.keep[1]

    @property
    def kept_frames(self) -> int:
        return self.keep[1] - self.keep[0]

    def to_dict(self) -> dict:
        return {
            "index": self.index,
            "frames": self.frames,
            "start": self.start,
            "keep": [self.keep[0], self.keep[1]],
            "tail_frames": self.tail_frames,
            "latent_frames": self.latent_frames,
        }


@dataclass(frozen=True)
class ChainPlan:
    fps: Fraction
    total_frames: int
    clip_frames: int
    tail_frames: int
    chunks: tuple[ChunkPlan, ...]
    crossfade: bool = False
    """Overlap frames come from the receiving chunk (which crossfades its head from the tail to its own
    content) instead of from the chunk that handed the tail over."""

    @property
    def tail_latent_frames(self) -> int:
        """Latent slots the tail fills on the receiving chunk's time axis (causal slot included)."""
        return latent_frames(self.tail_frames)

    @property
    def rendered_frames(self) -> int:
        return sum(c.frames for c in self.chunks)

    def seconds_at(self, frame: int) -> Fraction:
        return Fraction(frame) / self.fps

    def chunk_for_frame(self, frame: int) -> int:
        """The chunk whose new content starts nearest to ``frame`` (ties go to the later chunk).

        A prompt or anchor placed at a time takes effect at a chunk boundary, never inside a chunk; this
        picks the boundary closest to the requested time.
        """
        starts = [c.keep[0] for c in self.chunks]
        best = 0
        for i, s in enumerate(starts):
            if abs(s - frame) <= abs(starts[best] - frame):
                best = i
        return best

    def to_dict(self) -> dict:
        fps: int | float = int(self.fps) if self.fps.denominator == 1 else float(self.fps)
        data = {
            "fps": fps,
            "total_frames": self.total_frames,
            "clip_frames": self.clip_frames,
            "tail_frames": self.tail_frames,
            "rendered_frames": self.rendered_frames,
            "chunks": [c.to_dict() for c in self.chunks],
        }
        if self.crossfade:  # present only when on: plans without it keep their established shape
            data["crossfade"] = True
        return data

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    def table(self) -> str:
        """The plan as a fixed-width text table (the CLI's and the preview node's dry run)."""
        head = ("chunk", "start", "frames", "latents", "keep", "new", "tail", "cut", "seconds")
        rows = [head]
        for c in self.chunks:
            t0, t1 = self.seconds_at(c.keep[0]), self.seconds_at(c.keep[1])
            rows.append(
                (
                    str(c.index),
                    str(c.start),
                    str(c.frames),
                    str(c.latent_frames),
                    f"[{c.keep[0]}, {c.keep[1]})",
                    str(c.kept_frames),
                    str(c.tail_frames),
                    str(c.end_trim),
                    f"{float(t0):.2f}-{float(t1):.2f}",
                )
            )
        widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
        lines = ["  ".join(cell.rjust(w) for cell, w in zip(r, widths)) for r in rows]
        fps = f"{float(self.fps):g}"
        if len(self.chunks) == 1:
            shape = f"1 chunk of {self.chunks[0].frames} frames (no handoff)"
        else:
            shape = (
                f"{len(self.chunks)} chunks of up to {self.clip_frames} frames, tail {self.tail_frames} "
                f"({self.tail_latent_frames} latent{', crossfaded' if self.crossfade else ''})"
            )
        summary = (
            f"{shape}; {self.total_frames} frames at {fps} fps = {float(self.seconds_at(self.total_frames)):.2f} s; "
            f"{self.rendered_frames} frames rendered"
        )
        return "\n".join([summary, *lines])


def _check_int(field: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise PlanError(field, f"{value!r} is not a whole number of frames")
    return value


def make_plan(
    *,
    fps: int | float | str | Fraction,
    clip_frames: int,
    tail_frames: int,
    total_frames: int | None = None,
    seconds: float | None = None,
    max_chunks: int = DEFAULT_MAX_CHUNKS,
    crossfade: bool = False,
) -> ChainPlan:
    """Plan a chain reaching exactly ``total_frames`` (or ``seconds`` at ``fps``, rounded to a frame).

    Each overlap is delivered once: by the chunk that handed the tail over, or with ``crossfade`` by the chunk that
    received it (which blends its head from the tail into its own frames)."""
    rate = as_fps(fps)
    if (total_frames is None) == (seconds is None):
        raise PlanError("total_frames", "give exactly one of total_frames or seconds")
    if seconds is not None:
        if not (isinstance(seconds, (int, float)) and math.isfinite(seconds) and seconds > 0):
            raise PlanError("seconds", f"{seconds!r} is not a positive duration in seconds")
        total_frames = frames_for_seconds(seconds, rate)
        if total_frames < 1:
            raise PlanError("seconds", f"{seconds} s is less than one frame at {float(rate):g} fps")
    total = _check_int("total_frames", total_frames)
    clip = _check_int("clip_frames", clip_frames)
    tail = _check_int("tail_frames", tail_frames)
    limit = _check_int("max_chunks", max_chunks)

    if not 1 <= total <= MAX_TOTAL_FRAMES:
        raise PlanError("total_frames", f"{total} is out of range; use 1 to {MAX_TOTAL_FRAMES} frames")
    if not MIN_CLIP_FRAMES <= clip <= MAX_CLIP_FRAMES:
        raise PlanError("clip_frames", f"{clip} is out of range; use 8k+1 frames from {MIN_CLIP_FRAMES} to {MAX_CLIP_FRAMES}")
    if not is_valid_length(clip):
        raise PlanError("clip_frames", f"{clip} is not 8k+1 frames; the nearest valid lengths are {_neighbours(clip)}")
    if tail < 1:
        raise PlanError("tail_frames", f"{tail} is too short; the tail is at least 1 frame (8k+1: 1, 9, 17, 25, ...)")
    if tail >= clip:
        raise PlanError("tail_frames", f"{tail} must be shorter than clip_frames ({clip}); at most {clip - FRAMES_PER_LATENT}")
    if not is_valid_length(tail):
        raise PlanError(
            "tail_frames",
            f"{tail} is not aligned to the 8x latent grid; a tail is 8k+1 frames, e.g. {_neighbours(tail)}",
        )
    if limit < 1:
        raise PlanError("max_chunks", f"{limit} must be at least 1")

    stride = clip - tail
    count = 1 if total <= clip else 1 + math.ceil((total - clip) / stride)
    if count > limit:
        raise PlanError(
            "max_chunks",
            f"{total} frames need {count} chunks of {clip} frames with a {tail}-frame tail, more than the limit "
            f"of {limit}; raise max_chunks, use longer clips or a shorter tail, or ask for fewer frames",
        )

    chunks = []
    for i in range(count):
        start = i * stride
        last = i == count - 1
        frames = round_up_to_valid(total - start) if last else clip
        if crossfade:
            keep = (start, total if last else start + frames - tail)
        else:
            keep = (start + (tail if i else 0), total if last else start + frames)
        chunks.append(ChunkPlan(i, start, frames, keep, 0 if last else tail))
    return ChainPlan(rate, total, clip, tail, tuple(chunks), crossfade)
