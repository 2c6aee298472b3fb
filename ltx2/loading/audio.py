"""Load the audio VAE encoder / decoder and the vocoder from an official checkpoint: the single file, or LTX-2.5's
split audio VAE file (the same keys and ``audio_vae`` / ``vocoder`` config sections).

File layout: ``audio_vae.encoder.*``, ``audio_vae.decoder.*`` and ``audio_vae.per_channel_statistics.*`` (shared by
encoder and decoder); ``vocoder.*`` with exactly one leading ``vocoder.`` removed (LTX-2.3's
``vocoder.vocoder.conv_pre`` is the module's ``vocoder.conv_pre``).
"""

from __future__ import annotations

import torch

from ..model.audio_vae import AudioDecoder, AudioEncoder, AudioVAEConfig
from ..model.vocoder import build_vocoder
from .build import build_on_meta, load_into
from .checkpoint import CheckpointFile
from .lazy import LazyTensor

STATISTICS = "audio_vae.per_channel_statistics."


def audio_vae_state(checkpoint: CheckpointFile, part: str) -> dict[str, LazyTensor]:
    """``part`` ("encoder" or "decoder") keys with the statistics under ``per_channel_statistics.``."""
    state = checkpoint.lazy(f"audio_vae.{part}.")
    stats = checkpoint.lazy(STATISTICS)
    state.update({f"per_channel_statistics.{k}": v for k, v in stats.items()})
    return state


def load_audio_encoder(checkpoint: CheckpointFile, *, device="cpu", dtype: torch.dtype | None = None) -> AudioEncoder:
    cfg = AudioVAEConfig.from_config(checkpoint.require("audio VAE"))
    module = build_on_meta(lambda: AudioEncoder(cfg))
    return load_into(module, audio_vae_state(checkpoint, "encoder"), device=device, dtype=dtype, what=f"audio VAE encoder ({checkpoint.path.name})")


def load_audio_decoder(checkpoint: CheckpointFile, *, device="cpu", dtype: torch.dtype | None = None) -> AudioDecoder:
    cfg = AudioVAEConfig.from_config(checkpoint.require("audio VAE"))
    module = build_on_meta(lambda: AudioDecoder(cfg))
    return load_into(module, audio_vae_state(checkpoint, "decoder"), device=device, dtype=dtype, what=f"audio VAE decoder ({checkpoint.path.name})")


def load_vocoder(checkpoint: CheckpointFile, *, device="cpu", dtype: torch.dtype | None = torch.float32):
    """The LTX-2 HiFi-GAN or the LTX-2.3 BigVGAN + bandwidth extension, whichever the config describes.

    float32 by default: the reference runs the 2.3 vocoder in float32 whatever the weights' dtype."""
    cfg = checkpoint.require("vocoder")
    module = build_on_meta(lambda: build_vocoder(cfg))
    return load_into(module, checkpoint.lazy("vocoder."), device=device, dtype=dtype, what=f"vocoder ({checkpoint.path.name})")
