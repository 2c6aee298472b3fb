"""A streaming MP4 writer on PyAV: H.264 video (yuv420p) and AAC audio, written piece by piece.

Frames get exact timestamps on a 1/fps time base (rational rates such as 24000/1001 stay exact), audio on a
1/sample_rate time base; libavformat interleaves the two as packets arrive.

The file is written under a hidden temporary name, ``.<name>.<pid>.writing``, as a fragmented MP4: the init
segment (written with the first fragment, so its edit lists are exact), then a fragment per piece, every piece
starting on a keyframe. It plays up to its last complete fragment at any moment, so a player can follow a long render and a SIGKILL leaves a playable file. The
fragment of a piece reaches the disk once the encoder has passed its last frame, which, with the encoder's
lookahead, is while the next piece is written (or at commit). On commit the packets are copied (not
re-encoded) into a regular ``faststart`` MP4 renamed atomically to the final name, so that name only ever holds
a finished video every player reads. On abort the temporary file is removed, or, with ``keep_partial``, copied
the same way to ``<name>.partial.mp4``, playable up to the last piece written. A writer locks its temporary
file; opening a writer removes the temporary files of the same output that no live writer holds.
"""

from __future__ import annotations

import logging
import os
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import torch

from .files import FileLock, flatten, remove_leftovers

log = logging.getLogger(__name__)

_LAYOUTS = {1: "mono", 2: "stereo"}
_FRAGMENTED = {"movflags": "frag_keyframe+delay_moov+default_base_moof", "flush_packets": "1"}


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
        self._lock: FileLock | None = None
        self._fps: Fraction | None = None
        self._frames_written = 0
        self._samples_written = 0

    @property
    def frames_written(self) -> int:
        return self._frames_written

    def open(self, fps: Fraction, total_frames: int) -> None:
        self._fps = Fraction(fps)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        remove_leftovers(self.path.parent, f".{self.path.name}.*.writing", f".{self.path.name}.*.flattening")
        self._lock = FileLock(self.tmp_path)  # before libavformat truncates the file: same file, same lock
        try:
            self._container = av.open(str(self.tmp_path), mode="w", format="mp4", options=_FRAGMENTED)
        except BaseException:
            self._lock.release()
            self.tmp_path.unlink(missing_ok=True)
            raise

    def check(self) -> None:
        return None

    def _add_streams(self, width: int, height: int, channels: int | None, sample_rate: int | None) -> None:
        if width % 2 or height % 2:
            raise ValueError(f"H.264 yuv420p needs even frame sizes, got {width}x{height}")
        video = self._container.add_stream("libx264", rate=self._fps)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.time_base = 1 / self._fps
        video.options = {"crf": str(self.crf), "preset": self.preset, "forced-idr": "1"}
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
        for i, image in enumerate(pixels):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            if i == 0:  # each piece starts a fragment
                frame.pict_type = av.video.frame.PictureType.I
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
            if self._lock is not None:
                self._lock.release()
                self._lock = None

    def _flatten_to(self, path: Path) -> None:
        staging = self.path.with_name(f".{self.path.name}.{os.getpid()}.flattening")
        lock = FileLock(staging)
        try:
            flatten(self.tmp_path, staging)
            os.replace(staging, path)
        finally:
            lock.release()
            staging.unlink(missing_ok=True)
        self.tmp_path.unlink()

    def commit(self) -> Path:
        if self._frames_written == 0:
            self.abort()
            raise RuntimeError("no frames were written; nothing to save")
        try:
            self._close()
            self._flatten_to(self.path)
        except BaseException:
            self.tmp_path.unlink(missing_ok=True)
            raise
        return self.path

    def abort(self) -> None:
        try:
            self._close()
        except Exception as error:  # a broken encoder must not stop the cleanup
            log.warning("closing %s failed while aborting: %s", self.tmp_path, error)
        if self.keep_partial and self._frames_written and self.tmp_path.exists():
            try:
                self._flatten_to(self.partial_path)
            except (OSError, ValueError, av.FFmpegError) as error:  # the fragmented file still plays: keep it so
                log.warning("could not remux %s (%s); keeping it fragmented", self.tmp_path, error)
                os.replace(self.tmp_path, self.partial_path)
        else:
            self.tmp_path.unlink(missing_ok=True)
