"""Latent upsamplers inside the pipelines' un-normalise / normalise sandwich (video VAE statistics)."""

import torch
from reference import path

from ltx2.loading.checkpoint import CheckpointFile
from ltx2.loading.upsampler import load_latent_upsampler
from ltx2.loading.video_vae import load_video_encoder
from ltx2.model.upsampler import upsample_latent


def run(case):
    statistics = load_video_encoder(CheckpointFile(case.checkpoint), dtype=torch.float32).per_channel_statistics
    upsampler = load_latent_upsampler(CheckpointFile(path(case.meta["upsampler_checkpoint"])), dtype=torch.float32)
    latent = case.inputs["latent"]
    with torch.no_grad():
        raw = statistics.denormalize(latent)
        case.check("latent_unnormalized", raw)
        case.check("upsampled_unnormalized", upsampler(raw))
        case.check("latent", upsample_latent(latent, upsampler, statistics))
