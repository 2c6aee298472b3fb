"""A source video that a chain restyles chunk by chunk (video-to-video).

Frames are asked for by output frame range, one chunk at a time, at the video's own size: a file is read with
PyAV from the keyframe before the range (nothing else of it is held), frames already in memory (a ComfyUI IMAGE
batch) are sliced. Output frame k is source frame k: the chain renders at the source's frame rate.
"""

from __future__ import annotations

import hashlib
import os
from functools import cached_property
from dataclasses import dataclass
from fractions import Fraction

import av
import numpy as np
import torch

from ..errors import InputError
from ..loading.digest import file_digest
from .input_file import open_input


@dataclass(frozen=True, eq=False)
class SourceVideo:
    name: str
    """The input it came from (a flag or a node input), for messages."""
    frame_count: int
    width: int
    height: int
    fps: Fraction | None
    """The file's frame rate; None for frames in memory (they play at the chain's rate)."""
    path: str | None = None
    pictures: torch.Tensor | None = None
    """Frames in memory [F, H, W, 3] (uint8, or float in 0..1)."""

    @classmethod
    def from_frames(cls, frames: torch.Tensor, name: str = "source_video") -> SourceVideo:
        if not isinstance(frames, torch.Tensor) or frames.dim() != 4 or frames.shape[-1] < 3 or frames.shape[0] < 1:
            shape = list(frames.shape) if isinstance(frames, torch.Tensor) else type(frames).__name__
            raise InputError([(name, f"expected frames [F, H, W, 3] (an IMAGE batch), got {shape}")])
        return cls(name, frames.shape[0], frames.shape[2], frames.shape[1], None, pictures=frames[..., :3])

    def problems(self, total_frames: int, fps: Fraction) -> list[tuple[str, str]]:
        """Why a chain of ``total_frames`` at ``fps`` cannot restyle this video."""
        out = []
        if self.fps is not None and self.fps != fps:
            out.append((self.name, f"the video plays at {self.fps} fps and the chain at {fps}: render at the source's rate (leave the frame rate out)"))
        if total_frames > self.frame_count:
            out.append((self.name, f"the video has {self.frame_count} frames, the chain asks for {total_frames}: shorten the chain to at most {self.frame_count} frames (or leave its length out)"))
        return out

    @cached_property
    def digest(self) -> str:
        """SHA-256 of the file, or of the frames in memory (for the resume key), computed once."""
        if self.path is not None:
            return file_digest(self.path)
        h = hashlib.sha256(f"{list(self.pictures.shape)}:{self.pictures.dtype}:".encode())
        h.update(self.pictures.contiguous().cpu().numpy().tobytes())
        return h.hexdigest()

    def frames(self, start: int, end: int) -> torch.Tensor:
        """Output frames [start, end) as [end - start, H, W, 3] uint8 (or the in-memory frames' own dtype); past the
        video's end (the last chunk renders up to its 8k+1 length) the last frame repeats."""
        if not 0 <= start < self.frame_count or end <= start:
            raise InputError([(self.name, f"frames {start}..{end} asked of a video of {self.frame_count} frames")])
        stop = min(end, self.frame_count)
        if self.pictures is not None:
            out = self.pictures[start:stop]
        else:
            out = torch.from_numpy(np.stack(list(_decode(self.path, self.name, start, stop))))
            if len(out) < stop - start:
                raise InputError([(self.name, f"{self.path}: {len(out)} frames decoded from frame {start}, {stop - start} expected; re-encode the video at a constant frame rate")])
        return torch.cat([out, out[-1:].expand(end - stop, *out.shape[1:])]) if end > stop else out


def _decode(path: str, name: str, start: int, end: int):
    """Frames [start, end) of a constant-rate file, from the keyframe at or before ``start``."""
    try:
        with av.open(path) as container:
            stream = container.streams.video[0]
            rate, base = Fraction(stream.average_rate or stream.guessed_rate), stream.time_base
            origin = stream.start_time or 0
            if start:
                container.seek(origin + int(Fraction(start) / rate / base), stream=stream, backward=True)
            index = None
            for frame in container.decode(stream):
                if frame.pts is not None:
                    index = round((frame.pts - origin) * base * rate)
                else:
                    index = 0 if index is None else index + 1
                if index >= end:
                    return
                if index >= start:
                    yield frame.to_ndarray(format="rgb24")
    except av.error.FFmpegError as e:
        raise InputError([(name, f"{path}: the video cannot be decoded ({e})")]) from None


def read_source_video(path: str | os.PathLike, name: str = "--video") -> SourceVideo:
    """A video file's size, frame rate and frame count (its packets counted, nothing decoded)."""
    shown = os.fspath(path)
    with open_input(path, name, "video", ("MP4", "MOV", "MKV", "WEBM")) as container:
        if not container.streams.video:
            raise InputError([(name, f"{shown} has no video stream; give a video file")])
        stream = container.streams.video[0]
        rate = stream.average_rate or stream.guessed_rate
        if not rate or not stream.width:
            raise InputError([(name, f"{shown}: its video stream has no frame rate or size; re-mux it (e.g. to MP4)")])
        count = sum(1 for packet in container.demux(stream) if packet.size)
    if not count:
        raise InputError([(name, f"{shown}: its video stream holds no frames")])
    return SourceVideo(name, count, stream.width, stream.height, Fraction(rate), path=shown)
