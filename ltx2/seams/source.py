"""The video under analysis, read with PyAV one frame at a time: pictures downscaled for the metrics, sound as mono.

Nothing here holds the whole video: frames come out one by one at the analysis size (the longer side at most
``max_side`` pixels, area-averaged by libswscale), the sound as the decoder's blocks of mono float samples.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction

import av
import numpy as np

from ..errors import InputError
from ..options import SEAMS_MAX_SIDE

DEFAULT_MAX_SIDE = SEAMS_MAX_SIDE
"""Pixels on the longer side the metrics see; larger videos are area-downscaled to it."""

VideoSource = str | os.PathLike | io.IOBase


@dataclass(frozen=True)
class VideoInfo:
    name: str
    fps: Fraction
    width: int
    height: int
    analysis_width: int
    analysis_height: int
    sample_rate: int | None
    """None when the file has no audio stream."""

    def to_dict(self) -> dict:
        fps: int | float = int(self.fps) if self.fps.denominator == 1 else float(self.fps)
        return {
            "name": self.name,
            "fps": fps,
            "size": [self.width, self.height],
            "analysis_size": [self.analysis_width, self.analysis_height],
            "sample_rate": self.sample_rate,
        }


def _name(source: VideoSource) -> str:
    return os.fspath(source) if isinstance(source, (str, os.PathLike)) else "<video stream>"


def _open(source: VideoSource):
    if isinstance(source, io.IOBase):
        source.seek(0)
    elif not os.path.isfile(source):
        raise InputError([("video", f"{_name(source)}: no such file; give the path of a video file (e.g. the chain's MP4)")])
    try:
        return av.open(source if isinstance(source, io.IOBase) else os.fspath(source))
    except (av.error.FFmpegError, OSError, ValueError) as e:
        raise InputError([("video", f"{_name(source)} is not a video file PyAV can read ({e}); give an MP4 or another video file")]) from None


def analysis_size(width: int, height: int, max_side: int) -> tuple[int, int]:
    """The size the metrics see: ``width`` x ``height`` scaled down (never up) so the longer side is ``max_side``."""
    scale = min(1.0, max_side / max(width, height))
    return max(8, round(width * scale)), max(8, round(height * scale))


def probe(source: VideoSource, max_side: int = DEFAULT_MAX_SIDE) -> VideoInfo:
    """The video's frame rate, size and sound, checked to be a video PyAV decodes."""
    if max_side < 16:
        raise InputError([("max_side", f"{max_side} is too small; the metrics need at least 16 pixels (default {DEFAULT_MAX_SIDE})")])
    with _open(source) as container:
        if not container.streams.video:
            raise InputError([("video", f"{_name(source)} has no video stream; give a video file")])
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        if not rate or not stream.width:
            raise InputError([("video", f"{_name(source)}: its video stream has no frame rate or size; re-mux it (e.g. to MP4)")])
        audio = container.streams.audio[0].sample_rate if container.streams.audio else None
        width, height = analysis_size(stream.width, stream.height, max_side)
        return VideoInfo(_name(source), Fraction(rate), stream.width, stream.height, width, height, audio)


def frames(source: VideoSource, info: VideoInfo) -> Iterator[np.ndarray]:
    """The frames in order, each [h, w, 3] uint8 RGB at the analysis size."""
    with _open(source) as container:
        try:
            for frame in container.decode(video=0):
                yield frame.to_ndarray(format="rgb24", width=info.analysis_width, height=info.analysis_height, interpolation="AREA")
        except av.error.FFmpegError as e:
            raise InputError([("video", f"{info.name}: the video cannot be decoded ({e})")]) from None


def sound(source: VideoSource, info: VideoInfo) -> Iterator[np.ndarray]:
    """The first audio stream as mono float32 blocks at its own sample rate, aligned to the first video frame: silence
    is prepended where the sound starts late, samples before the picture are dropped."""
    with _open(source) as container:
        video, audio = container.streams.video[0], container.streams.audio[0]
        resampler = av.AudioResampler(format="flt", layout="mono", rate=info.sample_rate)
        video_start = float((video.start_time or 0) * video.time_base) if video.time_base else 0.0
        skip = None
        try:
            for frame in container.decode(audio):
                if skip is None:
                    start = float(frame.pts * frame.time_base) if frame.pts is not None and frame.time_base else video_start
                    skip = round((video_start - start) * info.sample_rate)
                    if skip < 0:
                        yield np.zeros(-skip, np.float32)
                for block in resampler.resample(frame):
                    samples = block.to_ndarray().reshape(-1).astype(np.float32, copy=False)
                    if skip > 0:
                        samples, skip = samples[skip:], max(0, skip - len(samples))
                    yield samples
            for block in resampler.resample(None):
                yield block.to_ndarray().reshape(-1).astype(np.float32, copy=False)
        except av.error.FFmpegError as e:
            raise InputError([("video", f"{info.name}: the sound cannot be decoded ({e})")]) from None
