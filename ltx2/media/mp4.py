"""A streaming MP4 writer on PyAV: H.264 video (yuv420p) and AAC audio, written piece by piece.

Frames get exact timestamps on a 1/fps time base (rational rates such as 24000/1001 stay exact), audio on a
1/sample_rate time base.

The file is written under a hidden temporary name, ``.<name>.<pid>.writing``, as a fragmented MP4: the init
segment (written with the first fragment, so its edit lists are exact), then a fragment per piece. Each piece
has an H.264 encoder of its own, drained at the piece's end (the piece starts on a keyframe, and no lookahead
holds its last frames back; without B-frames, so every piece's decode times follow on from the last's), and a muxer of its own, closed before ``write`` returns: the piece's fragment is
then on disk with every frame, and a SIGKILL leaves a file that plays exactly the pieces written. Only the AAC
encoder runs on across pieces (a new one would prime each piece with silence), so the last audio of a piece,
under two AAC frames, reaches the disk with the next piece (or at commit). The fragments of the separate
muxers are joined into one timeline by renumbering them and setting each one's decode time.

On commit the packets are copied (not re-encoded) into a regular ``faststart`` MP4 renamed atomically to the
final name, so that name only ever holds a finished video every player reads. On abort the temporary file is
removed, or, with ``keep_partial``, copied the same way to ``<name>.partial.mp4``, playable up to the last
piece written. A writer locks its temporary file; opening a writer removes the temporary files of the same
output that no live writer holds.
"""

from __future__ import annotations

import io
import logging
import os
import struct
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import torch

from ..shutdown import interrupts_deferred
from .files import FileLock, flatten, remove_leftovers

log = logging.getLogger(__name__)

_LAYOUTS = {1: "mono", 2: "stereo"}
_FRAGMENT = {"movflags": "frag_custom+delay_moov+default_base_moof+skip_trailer"}  # one fragment, cut at close


def to_uint8_frames(frames: torch.Tensor) -> np.ndarray:
    """[f, H, W, 3] float 0..1 (or uint8) -> a new contiguous uint8 numpy array for the encoder."""
    if frames.dtype != torch.uint8:  # one temporary, in-place after that: this runs on the render thread
        return frames.detach().to("cpu", torch.float32).mul(255).add_(0.5).clamp_(0, 255).to(torch.uint8).numpy()
    return np.array(frames.detach().cpu().numpy(), copy=True)


def to_float_audio(audio: torch.Tensor) -> np.ndarray:
    """[C, s] float -> a new float32 numpy array in [-1, 1]; non-finite samples (AAC cannot take them) -> 0."""
    return torch.nan_to_num(audio.detach().float().cpu(), nan=0.0, posinf=0.0, neginf=0.0).clamp(-1, 1).numpy().copy()


def _boxes(data: bytes | bytearray, start: int, end: int):
    """(type, offset, size) of the MP4 boxes laid end to end in ``data[start:end]``."""
    at = start
    while at + 8 <= end:
        size, kind = struct.unpack_from(">I4s", data, at)
        if size == 1:
            size = struct.unpack_from(">Q", data, at + 8)[0]
        elif size == 0:
            size = end - at
        yield kind, at, size
        at += size


def renumber_fragments(data: bytes, sequence: int, decode_times: dict[int, int]) -> tuple[bytes, int]:
    """The fragments (``moof`` + ``mdat``) of a one-muxer fragmented MP4, without its ``ftyp``/``moov``, renumbered
    from ``sequence`` and with each track's decode time (``tfdt``) set from ``decode_times`` (track id -> time in
    the track's timescale); returns them and the next sequence number."""
    out = bytearray()
    for kind, at, size in _boxes(data, 0, len(data)):
        if kind in (b"ftyp", b"moov"):
            continue
        box = bytearray(data[at : at + size])
        if kind == b"moof":
            for child, c_at, c_size in _boxes(box, 8, size):
                if child == b"mfhd":
                    struct.pack_into(">I", box, c_at + 12, sequence)
                    sequence += 1
                elif child == b"traf":
                    parts = {k: o for k, o, _ in _boxes(box, c_at + 8, c_at + c_size)}
                    track = struct.unpack_from(">I", box, parts[b"tfhd"] + 12)[0]
                    tfdt = parts[b"tfdt"]
                    struct.pack_into(">Q" if box[tfdt + 8] == 1 else ">I", box, tfdt + 12, decode_times[track])
        out += box
    return bytes(out), sequence


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
        self._file = None
        self._lock: FileLock | None = None
        self._fps: Fraction | None = None
        self._size: tuple[int, int] | None = None
        self._audio: av.AudioCodecContext | None = None  # the AAC encoder, which runs across pieces
        self._origins: dict[int, int] = {}  # track id -> the decode time of its first sample in the file
        self._sequence = 1
        self._frames_written = 0
        self._samples_written = 0

    @property
    def frames_written(self) -> int:
        return self._frames_written

    def open(self, fps: Fraction, total_frames: int) -> None:
        self._fps = Fraction(fps)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        remove_leftovers(self.path.parent, f".{self.path.name}.*.writing", f".{self.path.name}.*.flattening")
        self._lock = FileLock(self.tmp_path)  # before the file is truncated: same file, same lock
        try:
            self._file = open(self.tmp_path, "wb")  # open until commit or abort
        except BaseException:
            self._lock.release()
            self.tmp_path.unlink(missing_ok=True)
            raise

    def check(self) -> None:
        return None

    def _start(self, width: int, height: int, channels: int | None, sample_rate: int | None) -> None:
        """The first piece decides the file's streams."""
        if width % 2 or height % 2:
            raise ValueError(f"H.264 yuv420p needs even frame sizes, got {width}x{height}")
        if channels is not None:
            if channels not in _LAYOUTS:
                raise ValueError(f"audio must be mono or stereo, got {channels} channels")
            audio = av.CodecContext.create("aac", "w")
            audio.sample_rate, audio.layout, audio.format = sample_rate, _LAYOUTS[channels], "fltp"
            audio.time_base, audio.bit_rate = Fraction(1, sample_rate), self.audio_bitrate
            audio.open()
            self._audio = audio
        self._size = (width, height)

    def prepare(self, frames: torch.Tensor, audio: torch.Tensor | None) -> tuple:
        """uint8 frames (4x smaller than float) and float32 audio, as new numpy arrays."""
        return to_uint8_frames(frames), None if audio is None else to_float_audio(audio)

    def write(self, piece: tuple, sample_rate: int | None) -> None:
        pixels, audio = piece
        if self._size is None:
            self._start(pixels.shape[2], pixels.shape[1], None if audio is None else audio.shape[0], sample_rate)
        if (audio is None) != (self._audio is None):
            raise ValueError("every piece must have audio, or none may: the first piece decided the file's streams")
        samples = None
        if audio is not None and audio.shape[-1]:
            samples = av.AudioFrame.from_ndarray(audio, format="fltp", layout=self._audio.layout.name)
            samples.sample_rate, samples.pts = sample_rate, self._samples_written
            self._samples_written += audio.shape[-1]
        self._append_fragment(pixels, self._audio.encode(samples) if samples is not None else [])

    def _append_fragment(self, pixels: np.ndarray, audio_packets: list) -> None:
        """Encode ``pixels`` with a new H.264 encoder, drained, and mux them with ``audio_packets`` into one
        fragment, appended to the file (and flushed to the OS: a SIGKILL cannot lose it). A second Ctrl-C waits
        for it: the muxer calls back into Python, where an interrupt would abort the process."""
        with interrupts_deferred():
            self._mux_fragment(pixels, audio_packets)

    def _mux_fragment(self, pixels: np.ndarray, audio_packets: list) -> None:
        buffer = io.BytesIO()
        first: dict[int, int] = {}  # track id -> the first decode time in this fragment

        def mux(out, packets) -> None:
            for packet in packets:
                if packet.stream.type == "video" and not packet.duration:  # a frame lasts one frame, also a piece's last
                    packet.duration = 1
                out.mux(packet)  # rebases the packet to the muxer's time base, the track's timescale
                first.setdefault(packet.stream.index + 1, packet.dts)

        with av.open(buffer, mode="w", format="mp4", options=_FRAGMENT) as out:
            video = out.add_stream("libx264", rate=self._fps)
            video.width, video.height = self._size
            video.pix_fmt, video.time_base = "yuv420p", 1 / self._fps
            video.options = {"crf": str(self.crf), "preset": self.preset, "bf": "0"}  # no reordering: pieces join on one timeline
            if self._audio is not None:
                stream = out.add_stream("aac", rate=self._audio.sample_rate)
                stream.layout, stream.time_base = self._audio.layout, self._audio.time_base
                for packet in audio_packets:
                    packet.stream = stream
            for image in pixels:
                frame = av.VideoFrame.from_ndarray(image, format="rgb24")
                frame.pts = self._frames_written
                self._frames_written += 1
                mux(out, video.encode(frame))
            mux(out, video.encode(None))
            mux(out, audio_packets)
        data = buffer.getvalue()
        if not self._origins:  # the first fragment: the init segment too, and its times as written
            self._origins = dict(first)
            self._sequence = 2
            self._file.write(data)
        else:
            times = {track: dts - self._origins.setdefault(track, dts) for track, dts in first.items()}
            fragment, self._sequence = renumber_fragments(data, self._sequence, times)
            self._file.write(fragment)
        self._file.flush()

    def _close(self) -> None:
        if self._file is None:
            return
        try:
            if self._audio is not None:  # the audio the AAC encoder still holds
                self._append_fragment(np.empty((0, 0, 0, 3), np.uint8), self._audio.encode(None))
        finally:
            self._file.close()
            self._file = None
            self._audio = None
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
        self.partial_path.unlink(missing_ok=True)  # an earlier run's partial: the whole video is here now
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
