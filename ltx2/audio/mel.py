"""The audio VAE's front end: waveform -> natural-log mel spectrogram.

Magnitude STFT (periodic Hann window, centred frames with reflect padding) projected onto a Slaney-style mel
filterbank (Slaney mel scale, area-normalised triangles), then ln(max(mel, 1e-5)). These are the settings of the
reference front end (torchaudio's MelSpectrogram with mel_scale="slaney", norm="slaney", power 1).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import torch

LOG_FLOOR = 1e-5

# Slaney mel scale: linear below 1 kHz (200/3 Hz per mel), logarithmic above (27 mels per factor 6.4).
_HZ_PER_MEL = 200.0 / 3.0
_BREAK_HZ = 1000.0
_BREAK_MEL = _BREAK_HZ / _HZ_PER_MEL
_LOG_STEP = math.log(6.4) / 27.0


def hz_to_mel(hz: torch.Tensor) -> torch.Tensor:
    linear = hz / _HZ_PER_MEL
    log = _BREAK_MEL + torch.log(hz.clamp_min(_BREAK_HZ) / _BREAK_HZ) / _LOG_STEP
    return torch.where(hz >= _BREAK_HZ, log, linear)


def mel_to_hz(mel: torch.Tensor) -> torch.Tensor:
    linear = mel * _HZ_PER_MEL
    log = _BREAK_HZ * torch.exp(_LOG_STEP * (mel - _BREAK_MEL))
    return torch.where(mel >= _BREAK_MEL, log, linear)


def mel_band_edges(n_mels: int, f_min: float, f_max: float) -> torch.Tensor:
    """[n_mels + 2] float64 Hz: band i rises from edge i, peaks at edge i+1 and falls to zero at edge i+2."""
    lo, hi = hz_to_mel(torch.tensor([f_min, f_max], dtype=torch.float64))
    return mel_to_hz(torch.linspace(float(lo), float(hi), n_mels + 2, dtype=torch.float64))


@lru_cache(maxsize=8)
def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int, f_min: float, f_max: float) -> torch.Tensor:
    """[n_fft // 2 + 1, n_mels] float64 triangular filters, each scaled by 2 / (its width in Hz)."""
    bins = torch.linspace(0, sample_rate // 2, n_fft // 2 + 1, dtype=torch.float64)
    edges = mel_band_edges(n_mels, f_min, f_max)
    left, centre, right = edges[:-2], edges[1:-1], edges[2:]
    rising = (bins[:, None] - left) / (centre - left)
    falling = (right - bins[:, None]) / (right - centre)
    triangles = torch.minimum(rising, falling).clamp_min(0.0)
    return triangles * (2.0 / (right - left))


@dataclass(frozen=True)
class MelFrontEnd:
    sample_rate: int = 16_000
    n_fft: int = 1024
    hop: int = 160
    n_mels: int = 64
    f_min: float = 0.0
    f_max: float = 8_000.0

    @classmethod
    def from_config(cls, audio_vae_config: dict) -> "MelFrontEnd":
        """From a checkpoint's ``config["audio_vae"]`` (the reference reads the rate, hop, FFT size and mel
        count from it, and always spans 0 Hz to Nyquist)."""
        params = audio_vae_config.get("model", {}).get("params", {})
        pre = audio_vae_config.get("preprocessing", {})
        rate = int(params.get("sampling_rate", 16_000))
        n_mels = params.get("ddconfig", {}).get("mel_bins") or pre.get("mel", {}).get("n_mel_channels", 64)
        return cls(
            sample_rate=rate,
            n_fft=int(pre.get("stft", {}).get("filter_length", 1024)),
            hop=int(pre.get("stft", {}).get("hop_length", 160)),
            n_mels=int(n_mels),
            f_max=rate / 2.0,
        )

    def __call__(self, waveform: torch.Tensor) -> torch.Tensor:
        """[..., samples] at ``sample_rate`` -> log-mel [..., 1 + samples // hop, n_mels] (float32)."""
        *lead, length = waveform.shape
        x = waveform.reshape(-1, length).float()
        window = torch.hann_window(self.n_fft, dtype=x.dtype, device=x.device)
        spec = torch.stft(x, self.n_fft, self.hop, self.n_fft, window, center=True, pad_mode="reflect", return_complex=True)
        fb = mel_filterbank(self.sample_rate, self.n_fft, self.n_mels, self.f_min, self.f_max).to(x)
        mel = spec.abs().transpose(1, 2) @ fb  # [N, frames, n_mels]
        mel = torch.log(mel.clamp_min(LOG_FLOOR))
        return mel.reshape(*lead, mel.shape[-2], self.n_mels)
