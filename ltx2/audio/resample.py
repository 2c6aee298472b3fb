"""Band-limited resampling with a Hann-windowed sinc, numerically equivalent to torchaudio's
``functional.resample`` defaults (``lowpass_filter_width`` 6, ``rolloff`` 0.99), in plain torch.

The rates are reduced by their gcd to ``up`` / ``down``. Output sample ``n`` sits at input time ``n * down / up``
and is a windowed-sinc sum over the input samples within ``lowpass_filter_width`` zero crossings of the
(lowered) cutoff. This is one strided convolution with ``up`` kernels, one per output phase.
"""

from __future__ import annotations

import math
from functools import lru_cache

import torch
import torch.nn.functional as F

LOWPASS_FILTER_WIDTH = 6
ROLLOFF = 0.99


@lru_cache(maxsize=16)
def _phase_kernels(up: int, down: int, zero_crossings: int, rolloff: float) -> tuple[torch.Tensor, int]:
    """[up, 1, 2*reach + down] float64 kernels and ``reach``, the input samples the filter spans on each side."""
    cutoff = min(up, down) * rolloff  # in units of the input rate divided by `down`
    reach = math.ceil(zero_crossings * down / cutoff)
    taps = torch.arange(-reach, reach + down, dtype=torch.float64) / down  # input offsets, in input periods / down
    phases = -torch.arange(up, dtype=torch.float64)[:, None] / up  # output phase j sits j/up later
    t = ((phases + taps) * cutoff).clamp(-zero_crossings, zero_crossings)  # distance in zero crossings
    window = torch.cos(t * (math.pi / (2 * zero_crossings))) ** 2
    kernels = torch.special.sinc(t) * window * (cutoff / down)
    return kernels[:, None, :], reach


def resample(waveform: torch.Tensor, orig_rate: int, new_rate: int, *, edge: str = "zeros") -> torch.Tensor:
    """Resample ``waveform`` [..., samples] from ``orig_rate`` to ``new_rate`` (integers).

    Returns [..., ceil(samples * new_rate / orig_rate)]. ``edge`` is how the signal continues past its ends:
    ``"zeros"`` (torchaudio) or ``"replicate"`` (the LTX-2.3 bandwidth extension's skip path).
    """
    if int(orig_rate) != orig_rate or int(new_rate) != new_rate or orig_rate <= 0 or new_rate <= 0:
        raise ValueError(f"sample rates must be positive integers, got {orig_rate} -> {new_rate}")
    if orig_rate == new_rate:
        return waveform
    if not waveform.is_floating_point():
        raise TypeError(f"waveform must be floating point, got {waveform.dtype}")
    g = math.gcd(int(orig_rate), int(new_rate))
    up, down = int(new_rate) // g, int(orig_rate) // g
    kernels, reach = _phase_kernels(up, down, LOWPASS_FILTER_WIDTH, ROLLOFF)
    kernels = kernels.to(device=waveform.device, dtype=waveform.dtype)

    *lead, length = waveform.shape
    x = waveform.reshape(-1, 1, length)
    mode = {"zeros": "constant", "replicate": "replicate"}[edge]
    x = F.pad(x, (reach, reach + down), mode=mode)
    y = F.conv1d(x, kernels, stride=down)  # [N, up, frames]: phase j of output frame i is output sample i*up + j
    y = y.transpose(1, 2).reshape(x.shape[0], -1)
    out_length = -(-length * up // down)
    return y[:, :out_length].reshape(*lead, out_length)
