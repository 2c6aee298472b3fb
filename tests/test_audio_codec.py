"""The public audio API on the tiny checkpoints: shapes, rates, mono/stereo/batched input, frame rules."""

import math

import pytest
import torch
from reference import checkpoint_entry, path, rel_l2

from ltx2.audio import rates
from ltx2.audio.codec import AudioCodec
from ltx2.loading.checkpoint import CheckpointFile


@pytest.fixture(scope="module", params=[("ltx2", 24000, 240), ("ltx23", 48000, 480)], ids=["ltx2", "ltx23"])
def codec(request):
    name, rate, per_mel_frame = request.param
    c = AudioCodec.from_checkpoint(CheckpointFile(path(checkpoint_entry(name)["file"])))
    return c, rate, per_mel_frame


def test_encode_any_rate_mono_or_stereo_batched_or_not(codec):
    c, _, _ = codec
    seconds = 0.3
    t = torch.arange(int(44100 * seconds)) / 44100
    mono = torch.sin(2 * math.pi * 330 * t)[None]
    latent = c.encode_audio(mono, 44100)
    samples_16k = math.ceil(mono.shape[-1] * 16000 / 44100)
    frames = rates.latent_frames_for_mel(rates.mel_frames_for_samples(samples_16k))
    assert latent.shape == (2, frames, 16)  # tiny z_channels 2
    assert frames == 8  # 0.3 s: 4800 samples at 16 kHz -> 31 mel frames -> 8 latents
    assert torch.equal(c.encode_audio(mono.expand(2, -1), 44100), latent)
    assert torch.equal(c.encode_audio(mono[None], 44100)[0], latent)
    with pytest.raises(ValueError, match="1 or 2 channels"):
        c.encode_audio(torch.zeros(6, 100), 16000)


def test_decode_rate_and_length(codec):
    c, rate, per_mel_frame = codec
    latent = torch.randn(2, 3, 16, generator=torch.Generator().manual_seed(0))
    waveform, sr = c.decode_audio(latent)
    assert sr == rate == c.sample_rate
    assert waveform.shape == (2, rates.mel_frames_for_latents(3) * per_mel_frame) and waveform.dtype == torch.float32
    assert waveform.abs().max() <= 1
    batched, _ = c.decode_audio(latent[None].expand(2, -1, -1, -1))
    assert batched.shape == (2, *waveform.shape)
    # batching changes only summation orders; the long 2.3 chain amplifies them (README: 5e-5 for its stages)
    assert rel_l2(batched[1], waveform) < 5e-5


@pytest.mark.parametrize("mel_frames", [1, 2, 4, 5, 9, 51])
def test_vae_frame_rules(codec, mel_frames):
    c, _, _ = codec
    with torch.inference_mode():
        latent = c.encoder(torch.randn(1, 2, mel_frames, 64))
        assert latent.shape == (1, 2, rates.latent_frames_for_mel(mel_frames), 16)
        mel = c.decoder(latent)
    assert mel.shape == (1, 2, rates.mel_frames_for_latents(latent.shape[2]), 64)
