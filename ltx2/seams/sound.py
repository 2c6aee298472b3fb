"""The sound under each video frame: level, spectral change and the largest sample step, fed block by block.

Frame i's sound is the samples from ``sample_at_frame(i)`` to ``sample_at_frame(i + 1)`` (the chain cuts its
audio at the same places), mixed to mono. Per frame:

* level: RMS in dBFS (full scale 1.0; silence floors at -100 dB);
* spectral flux: the summed rise of the Hann-windowed magnitude spectrum over the previous frame's, relative
  to the previous frame's summed magnitude (0 for a steady sound, large for a burst such as a click);
* click: the largest step between consecutive samples (full scale 1.0; the step into the frame's first
  sample from the previous frame's last counts), what a waveform discontinuity at a seam shows as.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from ..chain.plan import sample_at_frame

SILENCE_DB = -100.0


class SoundSignals:
    def __init__(self, fps: Fraction, sample_rate: int):
        self.fps, self.sample_rate = fps, sample_rate
        longest = sample_at_frame(1, fps, sample_rate) + 1
        self._fft = 1 << max(4, (longest - 1).bit_length())
        self._floor = self._fft * 10 ** (SILENCE_DB / 20)
        """Summed magnitude of a -100 dBFS sound: a rise out of silence is measured against it."""
        self.level_db: list[float] = []
        self.flux: list[float] = []
        self.click: list[float] = []
        self.energy: list[float] = []
        """Sum of squared samples per frame (chunk loudness adds these up)."""
        self.samples: list[int] = []
        self._pending = np.zeros(0, np.float32)
        self._consumed = 0
        self._last_sample = 0.0
        self._spectrum: np.ndarray | None = None

    def feed(self, block: np.ndarray) -> None:
        self._pending = np.concatenate([self._pending, block])
        while True:
            frame = len(self.level_db)
            end = sample_at_frame(frame + 1, self.fps, self.sample_rate) - self._consumed
            if end > len(self._pending):
                return
            self._measure(self._pending[:end])
            self._consumed += end
            self._pending = self._pending[end:]

    def finish(self, frames: int) -> None:
        """Measure up to ``frames`` video frames; frames past the end of the sound count as silence."""
        while len(self.level_db) < frames:
            want = sample_at_frame(len(self.level_db) + 1, self.fps, self.sample_rate) - self._consumed
            piece = self._pending[:want]
            self._measure(np.concatenate([piece, np.zeros(max(0, want - len(piece)), np.float32)]))
            self._consumed += want
            self._pending = self._pending[want:]
        del self.level_db[frames:], self.flux[frames:], self.click[frames:], self.energy[frames:], self.samples[frames:]

    def _measure(self, x: np.ndarray) -> None:
        x = x.astype(np.float64)
        energy = float((x * x).sum())
        rms = np.sqrt(energy / len(x)) if len(x) else 0.0
        self.level_db.append(20 * np.log10(rms) if rms > 10 ** (SILENCE_DB / 20) else SILENCE_DB)
        self.energy.append(energy)
        self.samples.append(len(x))
        steps = np.abs(np.diff(np.concatenate([[self._last_sample], x]))) if len(x) else np.zeros(1)
        self.click.append(float(steps.max()))
        spectrum = np.abs(np.fft.rfft(x * np.hanning(len(x)), self._fft)) if len(x) > 1 else np.zeros(self._fft // 2 + 1)
        if self._spectrum is None:
            self.flux.append(np.nan)
        else:
            rise = np.clip(spectrum - self._spectrum, 0, None).sum()
            self.flux.append(float(rise / (self._spectrum.sum() + self._floor)))
        self._spectrum = spectrum
        if len(x):
            self._last_sample = float(x[-1])

    def arrays(self) -> dict[str, np.ndarray]:
        return {
            "level_db": np.array(self.level_db),
            "flux": np.array(self.flux),
            "click": np.array(self.click),
            "energy": np.array(self.energy),
            "samples": np.array(self.samples, np.int64),
        }
