"""Conditioning images: loaded from files (PyAV decodes PNG/JPEG/...) and fitted to the video size."""

from __future__ import annotations

import os

import av
import torch
import torch.nn.functional as F


def load_image(path: str | os.PathLike) -> torch.Tensor:
    """An image file -> [H, W, 3] float in 0..1."""
    try:
        with av.open(str(path)) as container:
            frame = next(container.decode(video=0))
    except (av.error.FFmpegError, StopIteration, OSError) as e:
        raise ValueError(f"cannot read image {path}: {e}") from None
    return torch.from_numpy(frame.to_ndarray(format="rgb24")).float() / 255


def fit_image(image: torch.Tensor, width: int, height: int) -> torch.Tensor:
    """[H, W, 3] or [N, H, W, 3] in 0..1 -> [height, width, 3] (or [N, ...]): scaled to cover, centre-cropped."""
    single = image.dim() == 3
    x = (image[None] if single else image).permute(0, 3, 1, 2).float()
    h, w = x.shape[2:]
    if (h, w) != (height, width):
        scale = max(height / h, width / w)
        size = (max(height, round(h * scale)), max(width, round(w * scale)))
        x = F.interpolate(x, size=size, mode="bilinear", antialias=True, align_corners=False)
        top, left = (size[0] - height) // 2, (size[1] - width) // 2
        x = x[:, :, top : top + height, left : left + width]
    out = x.permute(0, 2, 3, 1).clamp(0, 1)
    return out[0] if single else out
