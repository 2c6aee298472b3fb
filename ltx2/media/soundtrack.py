"""A given soundtrack that a chain follows: a song, a voice-over, a dialogue track.

The track is held once, at its own sample rate and channels (mono or stereo), and is cut by time: the samples
of output frames a..b are ``sample_at_frame(a)..sample_at_frame(b)`` at the track's rate, as the chain cuts its
own sound, so the pieces tile the track and the delivered sound is the input, sample for sample. Past its end a
track is silent or loops (``end``); with ``end="error"`` a video longer than the track is refused before
anything renders.
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

from ..chain.plan import sample_at_frame
from ..errors import InputError
from ..options import TRACK_ENDS
from .input_file import open_input

MAX_CHANNELS = 2


@dataclass(frozen=True, eq=False)
class Soundtrack:
    waveform: torch.Tensor
    """[C, S] float32, C = 1 or 2."""
    sample_rate: int
    name: str = "audio"
    """The input the track came from (a flag or a node input), for messages."""
    end: str = "error"
    """Past the track's end: ``error`` (the video may not be longer), ``silence`` or ``loop``."""

    def __post_init__(self):
        w = self.waveform
        if not isinstance(w, torch.Tensor) or w.dim() != 2 or not 1 <= w.shape[0] <= MAX_CHANNELS or w.shape[1] < 1:
            shape = list(w.shape) if isinstance(w, torch.Tensor) else type(w).__name__
            raise InputError([(self.name, f"expected mono or stereo sound [channels, samples] with at least one sample, got {shape}")])
        if not isinstance(self.sample_rate, int) or self.sample_rate < 1:
            raise InputError([(self.name, f"the sample rate must be a positive whole number, got {self.sample_rate!r}")])
        if self.end not in TRACK_ENDS:
            raise InputError([(f"{self.name} end", f"must be one of {', '.join(TRACK_ENDS)}, got {self.end!r}")])
        if not torch.isfinite(w).all():
            raise InputError([(self.name, "the sound holds NaN or infinite samples")])
        object.__setattr__(self, "waveform", w.detach().to("cpu", torch.float32).contiguous())

    @property
    def samples(self) -> int:
        return self.waveform.shape[1]

    @property
    def seconds(self) -> float:
        return self.samples / self.sample_rate

    def frames_covered(self, fps: Fraction) -> int:
        """The most output frames whose sound lies wholly inside the track."""
        frames = self.samples * fps.numerator // (self.sample_rate * fps.denominator) + 1
        while frames and sample_at_frame(frames, fps, self.sample_rate) > self.samples:
            frames -= 1
        return frames

    @cached_property
    def digest(self) -> str:
        """SHA-256 of the rate, shape and samples (for the resume key), computed once."""
        h = hashlib.sha256(f"{self.sample_rate}:{list(self.waveform.shape)}:".encode())
        h.update(self.waveform.numpy().tobytes())
        return h.hexdigest()

    def problems(self, total_frames: int, fps: Fraction) -> list[tuple[str, str]]:
        """Why a video of ``total_frames`` cannot follow the track (only with ``end="error"``)."""
        covered = self.frames_covered(fps)
        if self.end != "error" or total_frames <= covered:
            return []
        lengths = f"its sound lasts {self.seconds:.2f} s, the video {float(total_frames / fps):.2f} s ({total_frames} frames; {covered} are covered)"
        return [(self.name, f"{lengths}: shorten the video, or set audio_end to silence or loop")]

    def cut(self, start: int, count: int) -> torch.Tensor:
        """``count`` samples from sample ``start`` [C, count]; past the end silence, or the track again with ``loop``."""
        w, n = self.waveform, self.samples
        if self.end == "loop":
            index = torch.arange(start, start + count) % n
            return w[:, index]
        out = w[:, max(0, min(start, n)) : max(0, min(start + count, n))]
        if out.shape[1] < count:
            out = torch.nn.functional.pad(out, (0, count - out.shape[1]))
        return out

    def frames_span(self, start: int, end: int, fps: Fraction) -> torch.Tensor:
        """The sound of output frames [start, end), cut by time."""
        a, b = sample_at_frame(start, fps, self.sample_rate), sample_at_frame(end, fps, self.sample_rate)
        return self.cut(a, b - a)


def read_soundtrack(path: str | os.PathLike, *, name: str = "--audio", end: str = "error", from_video: bool = False) -> Soundtrack:
    """The first audio stream of a file PyAV reads (WAV, MP3, FLAC, AAC/M4A, OGG, a video's sound...), at its own
    rate, mono or stereo (more channels are mixed down to stereo). ``from_video``: aligned to the file's first video
    frame (sound that starts late is preceded by silence, sound before the picture is dropped)."""
    shown = os.fspath(path)
    with open_input(path, name, "sound", ("WAV", "MP3", "FLAC", "M4A")) as container:
        if not container.streams.audio:
            what = "has no sound" if container.streams.video else "has no audio stream"
            fix = "give a video with sound, or regenerate the sound" if from_video else "give a sound file"
            raise InputError([(name, f"{shown} {what}; {fix}")])
        stream = container.streams.audio[0]
        rate = stream.sample_rate or stream.codec_context.sample_rate
        layout = "mono" if stream.codec_context.channels == 1 else "stereo"
        resampler = av.AudioResampler(format="fltp", layout=layout, rate=rate)
        blocks, first = [], None
        for frame in container.decode(stream):
            if first is None and frame.pts is not None and frame.time_base:
                first = frame.pts * frame.time_base
            blocks += [b.to_ndarray() for b in resampler.resample(frame)]
        blocks += [b.to_ndarray() for b in resampler.resample(None)]
        video = container.streams.video[0] if from_video and container.streams.video else None
        picture = (video.start_time or 0) * video.time_base if video is not None and video.time_base else None
    if not blocks:
        raise InputError([(name, f"{shown}: its audio stream holds no samples")])
    waveform = torch.from_numpy(np.concatenate(blocks, axis=1).astype(np.float32, copy=False))
    if picture is not None and first is not None:
        shift = round((picture - first) * rate)
        waveform = waveform[:, shift:] if shift > 0 else torch.nn.functional.pad(waveform, (-shift, 0))
    return Soundtrack(waveform, int(rate), name=name, end=end)
