"""Latent upsamplers: spatial x2 / x1.5 and temporal x2 networks working on video VAE latents.

Each official upsampler file has no key prefix and a flat ``config`` (in/mid channels, blocks per stage,
dims, spatial/temporal switches, spatial scale, rational resampler). The network:

    initial_conv -> GroupNorm(32) -> SiLU -> res_blocks -> upsampler -> post_upsample_res_blocks -> final_conv

with plain zero-padded 3x3(x3) convs. The ``upsampler`` is one of
* spatial, plain (``upsampler.0``): per-frame Conv2d to 4C, pixel shuffle 2 (LTX-2.3 x2 1.1);
* spatial, rational (``upsampler.conv`` + stored buffer ``upsampler.blur_down.kernel``): per-frame Conv2d to
  num²·C, pixel shuffle ``num``, then a depthwise blur with stride ``den`` for scale num/den (x2 = 2/1, where
  the blur is skipped; x1.5 = 3/2);
* temporal (``upsampler.0``, 5-D weight): Conv3d to 2C, shuffle in time, then the first frame is dropped
  (F latent frames -> 2F-1, matching the VAE's causal first frame); with spatial as well: Conv3d to 8C.

They work on un-normalised latents; :func:`upsample_latent` wraps them in the video VAE's statistics.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .ops import compute_dtype, layers
from .video_vae import LatentStatistics, depth_to_space

RATIONAL_SCALES = {0.75: (3, 4), 1.5: (3, 2), 2.0: (2, 1), 4.0: (4, 1)}
"""Spatial scale -> (pixel-shuffle factor, blur stride) of the rational resampler."""


@dataclass(frozen=True)
class UpsamplerConfig:
    in_channels: int = 128
    mid_channels: int = 512
    num_blocks_per_stage: int = 4
    dims: int = 3
    spatial_upsample: bool = True
    temporal_upsample: bool = False
    spatial_scale: float = 2.0
    rational_resampler: bool = False

    @classmethod
    def from_checkpoint_config(cls, config: dict) -> "UpsamplerConfig":
        """From the file's flat ``config`` (absent keys take the reference's defaults)."""
        if config.get("_class_name", "LatentUpsampler") != "LatentUpsampler":
            raise ValueError(f"latent upsampler: unsupported class {config['_class_name']!r}")
        names = cls.__dataclass_fields__
        cfg = cls(**{k: v for k, v in config.items() if k in names})
        if cfg.dims not in (2, 3):
            raise ValueError(f"latent upsampler: dims must be 2 or 3, got {cfg.dims}")
        if cfg.temporal_upsample and cfg.dims != 3:
            raise ValueError("latent upsampler: temporal upsampling needs dims=3")
        if not (cfg.spatial_upsample or cfg.temporal_upsample):
            raise ValueError("latent upsampler: neither spatial_upsample nor temporal_upsample is set")
        if cfg.spatial_upsample and not cfg.temporal_upsample:
            if cfg.rational_resampler and float(cfg.spatial_scale) not in RATIONAL_SCALES:
                raise ValueError(f"latent upsampler: unsupported rational scale {cfg.spatial_scale} (choose from {sorted(RATIONAL_SCALES)})")
            if not cfg.rational_resampler and float(cfg.spatial_scale) != 2.0:
                raise ValueError(f"latent upsampler: scale {cfg.spatial_scale} needs the rational resampler")
        return cfg


def _conv(dims: int, cin: int, cout: int) -> nn.Module:
    return (layers().Conv2d if dims == 2 else layers().Conv3d)(cin, cout, 3, padding=1)


def _per_frame(fn, x: torch.Tensor) -> torch.Tensor:
    """Apply a 2-D op to every frame of [B, C, F, H, W]."""
    b, c, f, h, w = x.shape
    y = fn(x.transpose(1, 2).reshape(b * f, c, h, w))
    return y.reshape(b, f, *y.shape[1:]).transpose(1, 2)


class ResBlock(nn.Module):
    """SiLU(x + GN(conv2(SiLU(GN(conv1(x))))))."""

    def __init__(self, channels: int, dims: int):
        super().__init__()
        self.conv1 = _conv(dims, channels, channels)
        self.norm1 = layers().GroupNorm(32, channels)
        self.conv2 = _conv(dims, channels, channels)
        self.norm2 = layers().GroupNorm(32, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = F.silu(self.norm1(self.conv1(x)))
        return F.silu(self.norm2(self.conv2(h)) + x)


class Shuffle(nn.Module):
    """Depth-to-space over the last 1, 2 or 3 axes of a 5-D tensor, or 2 axes of a 4-D (per-frame) one."""

    def __init__(self, stride: tuple[int, int, int]):
        super().__init__()
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim == 4:
            return depth_to_space(x.unsqueeze(2), self.stride).squeeze(2)
        return depth_to_space(x, self.stride)


class BlurDown(nn.Module):
    """Depthwise blur with the stored kernel [1, 1, k, k] (normalised binomial) and stride; identity at stride 1."""

    def __init__(self, stride: int, size: int = 5):
        super().__init__()
        self.stride = stride
        self.register_buffer("kernel", torch.empty(1, 1, size, size))

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [N, C, H, W]
        if self.stride == 1:
            return x
        c, k = x.shape[1], self.kernel.shape[-1]
        return F.conv2d(x, self.kernel.to(x).expand(c, 1, k, k), stride=self.stride, padding=k // 2, groups=c)


class RationalResampler(nn.Module):
    """Per-frame Conv2d to num²·C, pixel shuffle ``num``, blur-downsample by ``den``: spatial scale num/den."""

    def __init__(self, channels: int, scale: float):
        super().__init__()
        num, den = RATIONAL_SCALES[float(scale)]
        self.conv = layers().Conv2d(channels, num * num * channels, 3, padding=1)
        self.shuffle = Shuffle((1, num, num))
        self.blur_down = BlurDown(den)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [N, C, H, W]
        return self.blur_down(self.shuffle(self.conv(x)))


class LatentUpsampler(nn.Module):
    """Un-normalised latents [B, C, F, H, W] -> [B, C, F, sH, sW] (spatial) or [B, C, 2F-1, H, W] (temporal)."""

    def __init__(self, cfg: UpsamplerConfig):
        super().__init__()
        self.cfg = cfg
        mid, dims = cfg.mid_channels, cfg.dims
        self.initial_conv = _conv(dims, cfg.in_channels, mid)
        self.initial_norm = layers().GroupNorm(32, mid)
        self.res_blocks = nn.ModuleList(ResBlock(mid, dims) for _ in range(cfg.num_blocks_per_stage))
        if cfg.temporal_upsample:
            stride = (2, 2, 2) if cfg.spatial_upsample else (2, 1, 1)
            self.upsampler = nn.Sequential(layers().Conv3d(mid, stride[0] * stride[1] * stride[2] * mid, 3, padding=1), Shuffle(stride))
        elif cfg.rational_resampler:
            self.upsampler = RationalResampler(mid, cfg.spatial_scale)
        else:
            self.upsampler = nn.Sequential(layers().Conv2d(mid, 4 * mid, 3, padding=1), Shuffle((1, 2, 2)))
        self.post_upsample_res_blocks = nn.ModuleList(ResBlock(mid, dims) for _ in range(cfg.num_blocks_per_stage))
        self.final_conv = _conv(dims, mid, cfg.in_channels)

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        x = latent.to(compute_dtype(self, self.final_conv))
        if self.cfg.dims == 2:
            x = _per_frame(self._body, x)
        else:
            x = self._body(x)
        return x.to(latent.dtype)

    def _body(self, x: torch.Tensor) -> torch.Tensor:
        x = F.silu(self.initial_norm(self.initial_conv(x)))
        for block in self.res_blocks:
            x = block(x)
        if self.cfg.temporal_upsample:
            x = self.upsampler(x)[:, :, 1:]  # the first latent frame holds one pixel frame: 2F -> 2F-1
        elif x.ndim == 5:
            x = _per_frame(self.upsampler, x)
        else:
            x = self.upsampler(x)
        for block in self.post_upsample_res_blocks:
            x = block(x)
        return self.final_conv(x)


def upsample_latent(latent: torch.Tensor, upsampler: LatentUpsampler, statistics: LatentStatistics) -> torch.Tensor:
    """Normalised latent -> upsampled normalised latent: un-normalise with the video VAE's statistics,
    upsample, normalise again (as the reference pipelines do)."""
    return statistics.normalize(upsampler(statistics.denormalize(latent)))
