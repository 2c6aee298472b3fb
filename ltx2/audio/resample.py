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
def _phase_kernels(up: int, down: int, dtype: torch.dtype) -> tuple[torch.Tensor, int]:
    """[up, 1, 2*reach + down] kernels and ``reach``, the input samples the filter spans on each side.

    Evaluated in ``dtype`` with torchaudio's order of operations, so float32 results agree with it to
    float32 rounding (large reduced rates such as 441/160 are sensitive to how the phase grid is rounded)."""
    cutoff = min(up, down) * ROLLOFF  # in units of the input rate divided by `down`
    reach = math.ceil(LOWPASS_FILTER_WIDTH * down / cutoff)
    taps = torch.arange(-reach, reach + down, dtype=dtype)[None, None] / down  # input offsets / down
    phases = torch.arange(0, -up, -1, dtype=dtype)[:, None, None] / up  # output phase j sits j/up later
    t = ((phases + taps) * cutoff).clamp(-LOWPASS_FILTER_WIDTH, LOWPASS_FILTER_WIDTH)  # in zero crossings
    window = torch.cos(t * math.pi / LOWPASS_FILTER_WIDTH / 2) ** 2
    t = t * math.pi
    sinc = torch.where(t == 0, torch.ones((), dtype=dtype), t.sin() / t)
    return sinc * (window * (cutoff / down)), reach


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
    work = waveform.dtype if waveform.dtype in (torch.float32, torch.float64) else torch.float32
    kernels, reach = _phase_kernels(up, down, work)
    kernels = kernels.to(device=waveform.device, dtype=waveform.dtype)

    *lead, length = waveform.shape
    x = waveform.reshape(-1, 1, length)
    mode = {"zeros": "constant", "replicate": "replicate"}[edge]
    x = F.pad(x, (reach, reach + down), mode=mode)
    y = F.conv1d(x, kernels, stride=down)  # [N, up, frames]: phase j of output frame i is output sample i*up + j
    y = y.transpose(1, 2).reshape(x.shape[0], -1)
    out_length = -(-length * up // down)
    return y[:, :out_length].reshape(*lead, out_length)
