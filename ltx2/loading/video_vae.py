"""Load the video VAE encoder / decoder from an official checkpoint, the single file or LTX-2.5's split video VAE
file (prefix ``vae.`` in both).

The file stores ``vae.encoder.*``, ``vae.decoder.*`` and one ``vae.per_channel_statistics.*`` set that both
halves use. LTX-2 (19B) files also carry three statistics the original release registered but nothing reads;
they are dropped here by name, and any other unknown ``vae.`` key is an error.
"""

from __future__ import annotations

import torch

from ..model.video_vae import STATISTICS, VideoDecoder, VideoEncoder, VideoVAEConfig
from .build import CheckpointMismatch, build_on_meta, load_into
from .checkpoint import CheckpointFile
from .lazy import LazyTensor

PREFIX = "vae."
STATISTICS_PREFIX = PREFIX + "per_channel_statistics."
LEGACY_STATISTICS = frozenset(STATISTICS_PREFIX + name for name in ("channel", "mean-of-stds", "mean-of-stds_over_std-of-means"))
"""In LTX-2 (19B) files, unused (the reference loader ignores them)."""


def _check_vae_keys(ckpt: CheckpointFile) -> None:
    known = (PREFIX + "encoder.", PREFIX + "decoder.")
    stats = {STATISTICS_PREFIX + name for name in STATISTICS}
    stray = [k for k in ckpt.keys(PREFIX) if not k.startswith(known) and k not in stats and k not in LEGACY_STATISTICS]
    if stray:
        raise CheckpointMismatch(f"video VAE ({ckpt.path.name}): unknown key(s) under {PREFIX!r}: {', '.join(sorted(stray)[:8])}")


def _state(ckpt: CheckpointFile, half: str) -> dict[str, LazyTensor]:
    _check_vae_keys(ckpt)
    state = ckpt.lazy(f"{PREFIX}{half}.")
    for name in STATISTICS:
        key = STATISTICS_PREFIX + name
        if key in ckpt.shapes:
            state["per_channel_statistics." + name] = ckpt.lazy(key, strip=False)[key]
    return state


def load_video_encoder(ckpt: CheckpointFile, *, device="cpu", dtype: torch.dtype | None = None) -> VideoEncoder:
    cfg = VideoVAEConfig.from_checkpoint_config(ckpt.require("video VAE"))
    module = build_on_meta(lambda: VideoEncoder(cfg))
    return load_into(module, _state(ckpt, "encoder"), device=device, dtype=dtype, what=f"video VAE encoder ({ckpt.path.name})")


def load_video_decoder(ckpt: CheckpointFile, *, device="cpu", dtype: torch.dtype | None = None) -> VideoDecoder:
    cfg = VideoVAEConfig.from_checkpoint_config(ckpt.require("video VAE"))
    module = build_on_meta(lambda: VideoDecoder(cfg))
    return load_into(module, _state(ckpt, "decoder"), device=device, dtype=dtype, what=f"video VAE decoder ({ckpt.path.name})")
