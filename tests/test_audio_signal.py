"""Resampling and the log-mel front end against analytic expectations (no reference case resamples)."""

import math

import pytest
import torch
from reference import rel_l2

from ltx2.audio import rates
from ltx2.audio.mel import MelFrontEnd
from ltx2.audio.resample import resample


def windowed_sinc(x: torch.Tensor, orig: int, new: int) -> torch.Tensor:
    """torchaudio's documented interpolation evaluated directly in seconds (float64, zeros outside the signal):
    y(n / new) = sum_k x[k] * sinc(t) * cos^2(pi t / 12) * c / orig, t = (k / orig - n / new) * c, |t| <= 6,
    c = 0.99 * min(orig, new)."""
    c = 0.99 * min(orig, new)
    n = torch.arange(math.ceil(len(x) * new / orig), dtype=torch.float64)[:, None]
    k = torch.arange(len(x), dtype=torch.float64)[None]
    t = (k / orig - n / new) * c
    window = torch.where(t.abs() <= 6, torch.cos(math.pi * t / 12) ** 2, torch.zeros_like(t))
    return (torch.special.sinc(t) * window * (c / orig)) @ x.double()


@pytest.mark.parametrize("orig, new", [(44100, 16000), (48000, 16000), (22050, 16000), (8000, 16000), (16000, 48000), (24000, 16000)])
def test_resample_is_the_windowed_sinc_interpolation(orig, new):
    x = torch.randn(2, 3, 700, generator=torch.Generator().manual_seed(orig + new), dtype=torch.float64)
    y64, y32 = resample(x, orig, new), resample(x.float(), orig, new)
    assert y64.shape == y32.shape == (2, 3, math.ceil(700 * new / orig)) and y32.dtype == torch.float32
    for row in range(3):
        expected = windowed_sinc(x[1, row], orig, new)
        assert rel_l2(y64[1, row], expected) < 1e-12
        # float32 evaluates the filter in float32 like torchaudio: long phase grids (441 / 160) round visibly
        assert rel_l2(y32[1, row], expected) < 5e-5


@pytest.mark.parametrize("orig", [44100, 48000, 22050, 32000])
def test_a_sine_survives_resampling(orig):
    f, seconds = 1000.0, 0.25
    x = torch.sin(2 * math.pi * f * torch.arange(int(orig * seconds)) / orig)
    y = resample(x, orig, 16000)
    assert y.shape[-1] == math.ceil(len(x) * 16000 / orig)
    expected = torch.sin(2 * math.pi * f * torch.arange(y.shape[-1]) / 16000)
    interior = slice(50, -50)  # the zero continuation at the ends is not a sine
    assert (y[interior] - expected[interior]).abs().max() < 2e-3


def test_content_above_the_new_nyquist_is_removed():
    x = torch.sin(2 * math.pi * 12000 * torch.arange(48000 // 4) / 48000)  # would alias to 4 kHz
    y = resample(x, 48000, 16000)
    assert y[50:-50].pow(2).mean().sqrt() < 0.01


def test_same_rate_is_identity_and_edges_continue_as_asked():
    x = torch.randn(1, 100)
    assert resample(x, 16000, 16000) is x
    ones = torch.ones(1, 64)
    assert (resample(ones, 16000, 48000, edge="replicate") - 1).abs().max() < 1e-2  # flat to the very ends
    assert resample(ones, 16000, 48000, edge="zeros")[0, -1] < 0.7  # falls off towards the zeros past the end
    with pytest.raises(ValueError):
        resample(x, 44100.5, 16000)


def slaney_hz(mel: float) -> float:
    """Textbook Slaney mel scale: 200/3 Hz per mel up to 1 kHz (15 mel), then 27 mels per factor 6.4."""
    return mel * 200 / 3 if mel < 15 else 1000 * math.exp((mel - 15) * math.log(6.4) / 27)


def slaney_mel(hz: float) -> float:
    return hz * 3 / 200 if hz < 1000 else 15 + 27 * math.log(hz / 1000) / math.log(6.4)


@pytest.mark.parametrize("band", [6, 20, 40, 63])
def test_a_pure_tone_peaks_in_its_mel_band(band):
    front = MelFrontEnd()
    step = slaney_mel(8000) / (front.n_mels + 1)
    f = slaney_hz((band + 1) * step)  # centre of `band`
    samples = 8000
    x = 0.5 * torch.sin(2 * math.pi * f * torch.arange(samples) / 16000)
    mel = front(torch.stack([x, -x]))
    assert mel.shape == (2, rates.mel_frames_for_samples(samples), 64)
    assert (mel[:, 5:-5].argmax(dim=-1) == band).all()


def test_silence_is_the_log_floor():
    mel = MelFrontEnd()(torch.zeros(1, 2, 1600))
    assert mel.shape == (1, 2, 11, 64)
    assert torch.equal(mel, torch.full_like(mel, math.log(1e-5)))


def test_latent_rate_facts():
    assert rates.LATENTS_PER_SECOND == 25 == rates.SAMPLE_RATE / rates.MEL_HOP / rates.LATENT_DOWNSAMPLE
    assert [rates.latent_frames_for_video(n, fps) for n, fps in [(121, 24), (121, 25), (97, 24), (241, 24)]] == [126, 121, 101, 251]
    assert rates.mel_frames_for_latents(126) == 501 and rates.mel_frames_for_latents(13) == 49
    assert rates.latent_frames_for_mel(51) == 13 and rates.mel_frames_for_samples(8000) == 51
    # README: audio token i spans [max(0, 4i-3) * 160 / 16000, max(0, 4(i+1)-3) * 160 / 16000)
    assert [rates.latent_start_seconds(i) for i in range(4)] == [0.0, 0.01, 0.05, 0.09]
