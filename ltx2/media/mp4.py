"""A streaming MP4 writer on PyAV: H.264 video (yuv420p) and AAC audio, written piece by piece.

Frames get exact timestamps on a 1/fps time base (rational rates such as 24000/1001 stay exact), audio on a
1/sample_rate time base; libavformat interleaves the two as packets arrive. The file is written under a
temporary name and renamed on commit, so the final name only ever holds a finished video. On abort the
temporary file is removed, or, with ``keep_partial``, closed properly and renamed ``<name>.partial.mp4``,
playable up to the last piece written.
"""

from __future__ import annotations

import logging
import os
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import torch

log = logging.getLogger(__name__)

_LAYOUTS = {1: "mono", 2: "stereo"}


def to_uint8_frames(frames: torch.Tensor) -> np.ndarray:
    """[f, H, W, 3] float 0..1 (or uint8) -> a new contiguous uint8 numpy array for the encoder."""
    if frames.dtype != torch.uint8:  # one temporary, in-place after that: this runs on the render thread
        return frames.detach().to("cpu", torch.float32).mul(255).add_(0.5).clamp_(0, 255).to(torch.uint8).numpy()
    return np.array(frames.detach().cpu().numpy(), copy=True)


def to_float_audio(audio: torch.Tensor) -> np.ndarray:
    """[C, s] float -> a new float32 numpy array in [-1, 1]; non-finite samples (AAC cannot take them) -> 0."""
    return torch.nan_to_num(audio.detach().float().cpu(), nan=0.0, posinf=0.0, neginf=0.0).clamp(-1, 1).numpy().copy()


class Mp4Writer:
    """A :class:`~ltx2.media.sink.MediaSink` writing an MP4 file (synchronously; see ``BackgroundSink``)."""

    def __init__(self, path: str | os.PathLike, crf: int = 18, preset: str = "medium", keep_partial: bool = False, audio_bitrate: int = 192_000):
        self.path = Path(path)
        self.crf = crf
        self.preset = preset
        self.keep_partial = keep_partial
        self.audio_bitrate = audio_bitrate
        self.tmp_path = self.path.with_name(f".{self.path.name}.{os.getpid()}.writing")
        self.partial_path = self.path.with_name(f"{self.path.stem}.partial{self.path.suffix}")
        self._container = None
        self._video = None
        self._audio = None
        self._fps: Fraction | None = None
        self._frames_written = 0
        self._samples_written = 0

    @property
    def frames_written(self) -> int:
        return self._frames_written

    def open(self, fps: Fraction, total_frames: int) -> None:
        self._fps = Fraction(fps)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._container = av.open(str(self.tmp_path), mode="w", format="mp4")

    def check(self) -> None:
        return None

    def _add_streams(self, width: int, height: int, channels: int | None, sample_rate: int | None) -> None:
        if width % 2 or height % 2:
            raise ValueError(f"H.264 yuv420p needs even frame sizes, got {width}x{height}")
        video = self._container.add_stream("libx264", rate=self._fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.time_base = 1 / self._fps
        video.options = {"crf": str(self.crf), "preset": self.preset}
        self._video = video
        if channels is not None:
            if channels not in _LAYOUTS:
                raise ValueError(f"audio must be mono or stereo, got {channels} channels")
            audio = self._container.add_stream("aac", rate=sample_rate)
            audio.layout = _LAYOUTS[channels]
            audio.time_base = Fraction(1, sample_rate)
            audio.bit_rate = self.audio_bitrate
            self._audio = audio

    def prepare(self, frames: torch.Tensor, audio: torch.Tensor | None) -> tuple:
        """uint8 frames (4x smaller than float) and float32 audio, as new numpy arrays."""
        return to_uint8_frames(frames), None if audio is None else to_float_audio(audio)

    def write(self, piece: tuple, sample_rate: int | None) -> None:
        pixels, audio = piece
        if self._video is None:
            self._add_streams(pixels.shape[2], pixels.shape[1], None if audio is None else audio.shape[0], sample_rate)
        if (audio is None) != (self._audio is None):
            raise ValueError("every piece must have audio, or none may: the first piece decided the file's streams")
        for image in pixels:
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = self._frames_written
            self._frames_written += 1
            self._container.mux(self._video.encode(frame))
        if audio is not None and audio.shape[-1]:
            samples = av.AudioFrame.from_ndarray(audio, format="fltp", layout=self._audio.layout.name)
            samples.sample_rate = sample_rate
            samples.pts = self._samples_written
            self._samples_written += audio.shape[-1]
            self._container.mux(self._audio.encode(samples))

    def _close(self) -> None:
        if self._container is None:
            return
        try:
            for stream in (self._video, self._audio):
                if stream is not None:
                    self._container.mux(stream.encode(None))
        finally:
            self._container.close()
            self._container = None

    def commit(self) -> Path:
        if self._frames_written == 0:
            self.abort()
            raise RuntimeError("no frames were written; nothing to save")
        self._close()
        os.replace(self.tmp_path, self.path)
        return self.path

    def abort(self) -> None:
        try:
            self._close()
        except Exception as error:  # a broken encoder must not stop the cleanup
            log.warning("closing %s failed while aborting: %s", self.tmp_path, error)
        if self.keep_partial and self._frames_written and self.tmp_path.exists():
            os.replace(self.tmp_path, self.partial_path)
        else:
            self.tmp_path.unlink(missing_ok=True)
