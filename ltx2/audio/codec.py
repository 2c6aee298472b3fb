"""Waveform <-> audio latent for LTX-2 / LTX-2.3, the public entry point of the audio side.

    codec = AudioCodec.from_checkpoint(CheckpointFile(path), device="cuda", dtype=torch.bfloat16)
    latent = codec.encode_audio(waveform, sample_rate)      # [C, S] any rate -> [z, T, 16], T = 25 per second
    waveform, rate = codec.decode_audio(latent)             # -> [2, S] float32 at 24 kHz (LTX-2) / 48 kHz (2.3)

Batched forms ([B, C, S] / [B, z, T, 16]) work too. Mono input is duplicated to stereo; user audio at any
integer rate is resampled to 16 kHz first (torchaudio-equivalent windowed sinc).
"""

from __future__ import annotations

import torch
from torch import nn

from ..loading.audio import load_audio_decoder, load_audio_encoder, load_vocoder
from ..loading.checkpoint import CheckpointFile
from ..model.audio_vae import AudioDecoder, AudioEncoder
from .mel import MelFrontEnd
from .resample import resample


class AudioCodec:
    def __init__(self, front_end: MelFrontEnd, encoder: AudioEncoder | None = None, decoder: AudioDecoder | None = None, vocoder: nn.Module | None = None):
        self.front_end = front_end
        self.encoder = encoder
        self.decoder = decoder
        self.vocoder = vocoder

    @classmethod
    def from_checkpoint(cls, checkpoint: CheckpointFile, *, device="cpu", dtype: torch.dtype = torch.float32, parts=("encoder", "decoder", "vocoder")) -> "AudioCodec":
        """Load the ``parts`` needed. The vocoder always runs in float32 (as the reference does; bf16 audibly
        degrades the 2.3 bandwidth extension)."""
        unknown = set(parts) - {"encoder", "decoder", "vocoder"}
        if unknown:
            raise ValueError(f"unknown audio codec parts: {sorted(unknown)}")
        return cls(
            MelFrontEnd.from_config(checkpoint.config["audio_vae"]),
            encoder=load_audio_encoder(checkpoint, device=device, dtype=dtype) if "encoder" in parts else None,
            decoder=load_audio_decoder(checkpoint, device=device, dtype=dtype) if "decoder" in parts else None,
            vocoder=load_vocoder(checkpoint, device=device, dtype=torch.float32) if "vocoder" in parts else None,
        )

    @property
    def sample_rate(self) -> int:
        """Sample rate of decoded audio."""
        if self.vocoder is None:
            raise RuntimeError("the audio codec was loaded without its vocoder")
        return self.vocoder.sample_rate

    def mel(self, waveform: torch.Tensor, sample_rate: int) -> torch.Tensor:
        """[C, S] or [B, C, S] (C = 1 or 2) at ``sample_rate`` -> log-mel [(B,) 2, 1 + S16k // 160, 64]."""
        if waveform.dim() not in (2, 3) or waveform.shape[-2] not in (1, 2):
            raise ValueError(f"audio must be [channels, samples] or [batch, channels, samples] with 1 or 2 channels, got {list(waveform.shape)}")
        waveform = waveform.float()
        if waveform.shape[-2] == 1:
            waveform = waveform.expand(*waveform.shape[:-2], 2, waveform.shape[-1])
        return self.front_end(resample(waveform, sample_rate, self.front_end.sample_rate))

    @torch.inference_mode()
    def encode_audio(self, waveform: torch.Tensor, sample_rate: int, *, device: torch.device | None = None) -> torch.Tensor:
        """[C, S] or [B, C, S] at any integer rate -> normalised latent [(B,) z, T, 16], T = ceil(mel frames / 4),
        computed on ``device`` (default: where the encoder's first weight is)."""
        if self.encoder is None:
            raise RuntimeError("the audio codec was loaded without its encoder")
        mel = self.mel(waveform.to(device or self.encoder.conv_in.conv.weight.device), sample_rate)
        latent = self.encoder(mel if mel.dim() == 4 else mel[None])
        return latent if mel.dim() == 4 else latent[0]

    @torch.inference_mode()
    def decode_audio(self, latent: torch.Tensor) -> tuple[torch.Tensor, int]:
        """Latent [(B,) z, T, 16] -> (waveform [(B,) 2, S] float32, sample rate); S = (4T - 3) * samples per mel frame.
        Decoded where ``latent`` is."""
        if self.decoder is None or self.vocoder is None:
            raise RuntimeError("the audio codec was loaded without its decoder or vocoder")
        batched = latent.dim() == 4
        waveform = self.vocoder(self.decoder(latent if batched else latent[None])).float()
        return (waveform if batched else waveform[0]), self.sample_rate
