"""Token positions the DiT's RoPE is evaluated at: [start, end) bounds per axis, in seconds and pixels.

Video token (f, h, w) of a latent grid with scale factors (8, 32, 32):
    time   [max(0, 8f - 7), 8f + 1) pixel frames (causal first latent frame = one pixel frame), / fps
    height [32h, 32h + 32) px, width [32w, 32w + 32) px
Audio latent step i covers mel frames [max(0, 4i - 3), max(0, 4(i+1) - 3)), times hop / sample rate.

Integer bounds are exact; the only float operations are the conversion to float32 and one float32
division (by fps, or by the sample rate after multiplying frames by the hop), which is what the
reference fixtures compare bit for bit.
"""

from __future__ import annotations

import torch

VIDEO_SCALE = (8, 32, 32)
"""Pixel frames / pixels per latent voxel along (time, height, width)."""


def video_positions(frames: int, height: int, width: int, fps: float, *, batch: int = 1, scale: tuple[int, int, int] = VIDEO_SCALE, device=None) -> torch.Tensor:
    """(batch, 3, frames*height*width, 2) float32 bounds for a latent grid, tokens frame-major then row, column."""
    st, sh, sw = scale
    f, h, w = torch.meshgrid(
        torch.arange(frames, device=device), torch.arange(height, device=device), torch.arange(width, device=device), indexing="ij"
    )
    f, h, w = f.flatten(), h.flatten(), w.flatten()
    time = torch.stack(((f * st + 1 - st).clamp_min(0), f * st + 1), dim=-1).to(torch.float32)
    time = time / torch.tensor(fps, dtype=torch.float32)
    rows = torch.stack((h * sh, h * sh + sh), dim=-1).to(torch.float32)
    cols = torch.stack((w * sw, w * sw + sw), dim=-1).to(torch.float32)
    return torch.stack((time, rows, cols)).unsqueeze(0).expand(batch, -1, -1, -1).contiguous()


def keyframe_positions(frame: int, pixel_frames: int, height: int, width: int, fps: float, *, batch: int = 1, device=None) -> torch.Tensor:
    """Bounds for the tokens of a keyframe latent (one latent frame) placed at pixel ``frame``: time
    [frame, frame + pixel_frames) / fps, space the target grid's."""
    positions = video_positions(1, height, width, fps, batch=batch, device=device).clone()
    time = torch.tensor([frame, frame + pixel_frames], dtype=torch.float32, device=device) / torch.tensor(fps, dtype=torch.float32)
    positions[:, 0] = time
    return positions


def audio_positions(steps: int, *, batch: int = 1, hop_length: int = 160, sample_rate: int = 16000, downsample: int = 4, device=None) -> torch.Tensor:
    """(batch, 1, steps, 2) float32 bounds in seconds for ``steps`` audio latent steps."""
    i = torch.arange(steps + 1, device=device)
    mel_frames = (i * downsample + 1 - downsample).clamp_min(0)
    seconds = (mel_frames * hop_length).to(torch.float32) / torch.tensor(float(sample_rate), dtype=torch.float32)
    bounds = torch.stack((seconds[:-1], seconds[1:]), dim=-1)
    return bounds.view(1, 1, steps, 2).expand(batch, -1, -1, -1).contiguous()
