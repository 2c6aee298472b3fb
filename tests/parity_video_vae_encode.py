"""Video VAE encode: clip in [-1, 1] -> normalised latent and the raw means."""

import torch

from ltx2.loading.checkpoint import CheckpointFile
from ltx2.loading.video_vae import load_video_encoder


def run(case):
    encoder = load_video_encoder(CheckpointFile(case.checkpoint_file("video_vae")), dtype=torch.float32)
    video = case.inputs["video"]
    with torch.no_grad():
        case.check("latent", encoder(video))
        case.check("latent_unnormalized", encoder.means(video))
