"""Tiled video VAE decode: causal temporal split, trapezoid blending, chunks streamed in time order."""

import torch

from ltx2.loading.checkpoint import CheckpointFile
from ltx2.loading.video_vae import load_video_decoder
from ltx2.model.vae_tiling import AxisTiling, VideoTiling, tiled_decode


def run(case):
    t = case.args["tiling"]
    tiling = VideoTiling(*(AxisTiling(t[axis]["tile_size"], t[axis]["overlap"]) for axis in ("frames", "height", "width")))
    decoder = load_video_decoder(CheckpointFile(case.checkpoint), dtype=torch.float32)
    chunks = list(tiled_decode(decoder, case.inputs["latent"], tiling))
    # The reference also yields empty chunks (a temporal tile that ends no frames); we skip those.
    assert [c.shape[2] for c in chunks] == [shape[2] for shape in case.args["chunks"] if shape[2]]
    case.check("video", torch.cat(chunks, dim=2))
