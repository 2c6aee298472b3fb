"""Video VAE decode: normalised latent -> video (unclamped)."""

import torch

from ltx2.loading.checkpoint import CheckpointFile
from ltx2.loading.video_vae import load_video_decoder


def run(case):
    assert case.args["timestep_conditioning"] is False
    decoder = load_video_decoder(CheckpointFile(case.checkpoint_file("video_vae")), dtype=torch.float32)
    assert decoder.cfg.causal_decoder == case.args["causal_decoder"]
    with torch.no_grad():
        case.check("video", decoder(case.inputs["latent"]))
