"""The LTX-2 audio VAE: log-mel [B, 2, T, 64] <-> latent [B, z, ceil(T/4), 16] (same network in LTX-2 and 2.3).

2-D convolutions over (time, mel) that are causal in time: every 3x3 conv pads two frames before and none after.
PixelNorm + SiLU residual blocks, no attention (the real configs have none), two stride-2 downsamplings in
the encoder and two nearest-neighbour upsamplings in the decoder. Latents are normalised with per-feature
statistics over the (channel, mel) features of a latent frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..audio.rates import mel_frames_for_latents
from .ops import compute_dtype, layers


@dataclass(frozen=True)
class AudioVAEConfig:
    ch: int = 128
    ch_mult: tuple[int, ...] = (1, 2, 4)
    num_res_blocks: int = 2
    z_channels: int = 8
    double_z: bool = True
    in_channels: int = 2
    out_ch: int = 2
    mel_bins: int = 64

    @classmethod
    def from_config(cls, audio_vae_config: dict) -> "AudioVAEConfig":
        """From a checkpoint's ``config["audio_vae"]`` (its ``model.params.ddconfig``)."""
        dd = audio_vae_config.get("model", {}).get("params", {}).get("ddconfig", {})
        # The reference's fallbacks when a key is missing enable attention; these files never use it.
        if dd.get("attn_resolutions", [8, 16, 32]) or dd.get("mid_block_add_attention", True):
            raise ValueError("audio VAE: attention blocks are not supported (the LTX-2 / 2.3 configs have none)")
        if dd.get("norm_type", "pixel") != "pixel" or dd.get("causality_axis", "height") != "height":
            raise ValueError(f"audio VAE: only pixel norm, causal in time, is supported; got {dd.get('norm_type')!r}, {dd.get('causality_axis')!r}")
        mel_bins = dd.get("mel_bins") or audio_vae_config.get("preprocessing", {}).get("mel", {}).get("n_mel_channels", 64)
        return cls(
            ch=dd.get("ch", 128),
            ch_mult=tuple(dd.get("ch_mult", (1, 2, 4))),
            num_res_blocks=dd.get("num_res_blocks", 2),
            z_channels=dd.get("z_channels", 8),
            double_z=dd.get("double_z", True),
            in_channels=dd.get("in_channels", 2),
            out_ch=dd.get("out_ch", 2),
            mel_bins=int(mel_bins),
        )

    @property
    def latent_mel_bins(self) -> int:
        return self.mel_bins // 2 ** (len(self.ch_mult) - 1)


class PixelNorm(nn.Module):
    """x / sqrt(mean over channels of x^2 + eps); no parameters."""

    def __init__(self, eps: float = 1e-6):
        super().__init__()
        self.eps = eps

    def forward(self, x):
        return x / torch.sqrt(torch.mean(x * x, dim=1, keepdim=True) + self.eps)


class CausalConv2d(nn.Module):
    """Stride-1 conv over [B, C, time, mel]: time padded (k-1) frames before only, mel padded symmetrically."""

    def __init__(self, c_in: int, c_out: int, kernel_size: int):
        super().__init__()
        self.conv = layers().Conv2d(c_in, c_out, kernel_size)
        k = kernel_size - 1
        self.padding = (k // 2, k - k // 2, k, 0)  # (mel left, mel right, time before, time after)

    def forward(self, x):
        return self.conv(F.pad(x, self.padding))


class ResnetBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int):
        super().__init__()
        self.norm1 = PixelNorm()
        self.conv1 = CausalConv2d(c_in, c_out, 3)
        self.norm2 = PixelNorm()
        self.conv2 = CausalConv2d(c_out, c_out, 3)
        self.nin_shortcut = CausalConv2d(c_in, c_out, 1) if c_in != c_out else None

    def forward(self, x):
        h = self.conv1(F.silu(self.norm1(x)))
        h = self.conv2(F.silu(self.norm2(h)))
        return (x if self.nin_shortcut is None else self.nin_shortcut(x)) + h


class Downsample(nn.Module):
    """Stride-2 3x3 conv: time padded 2 before (causal), mel 1 after. T -> ceil(T/2), M -> M/2."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = layers().Conv2d(channels, channels, 3, stride=2)

    def forward(self, x):
        return self.conv(F.pad(x, (0, 1, 2, 0)))


class Upsample(nn.Module):
    """Nearest x2 on both axes, causal conv, then drop the first frame: T -> 2T - 1, M -> 2M.

    After doubling, output frames 0 and 1 both see only input frame 0; dropping frame 0 keeps the causal
    frame count (one leading frame, then pairs)."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = CausalConv2d(channels, channels, 3)

    def forward(self, x):
        x = self.conv(F.interpolate(x, scale_factor=2.0, mode="nearest"))
        return x[:, :, 1:]


class MidBlock(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.block_1 = ResnetBlock(channels, channels)
        self.block_2 = ResnetBlock(channels, channels)

    def forward(self, x):
        return self.block_2(self.block_1(x))


class Level(nn.Module):
    """One resolution: residual blocks, then an optional resampling named ``downsample`` or ``upsample``."""

    def __init__(self, c_in: int, c_out: int, blocks: int, resample: str | None):
        super().__init__()
        self.block = nn.ModuleList(ResnetBlock(c_in if i == 0 else c_out, c_out) for i in range(blocks))
        self.resample = resample
        if resample is not None:
            self.add_module(resample, {"downsample": Downsample, "upsample": Upsample}[resample](c_out))

    def forward(self, x):
        for block in self.block:
            x = block(x)
        return x if self.resample is None else self.get_submodule(self.resample)(x)


class LatentStatistics(nn.Module):
    """Per-feature mean / std of the latents, feature index c * latent_mel_bins + f (a latent frame flattened)."""

    def __init__(self, channels: int, mel_bins: int):
        super().__init__()
        self.shape = (channels, 1, mel_bins)
        self.register_buffer("mean-of-means", torch.empty(channels * mel_bins))
        self.register_buffer("std-of-means", torch.empty(channels * mel_bins))

    def _stats(self, x):
        mean = self.get_buffer("mean-of-means").to(x).view(self.shape)
        std = self.get_buffer("std-of-means").to(x).view(self.shape)
        return mean, std

    def normalize(self, x):  # x [B, C, T, F]
        mean, std = self._stats(x)
        return (x - mean) / std

    def denormalize(self, x):
        mean, std = self._stats(x)
        return x * std + mean


class AudioEncoder(nn.Module):
    """log-mel [B, in_channels, T, mel_bins] -> normalised latent [B, z_channels, ceil(T/4), mel_bins/4]."""

    def __init__(self, cfg: AudioVAEConfig):
        super().__init__()
        self.cfg = cfg
        widths = [cfg.ch * m for m in cfg.ch_mult]
        self.conv_in = CausalConv2d(cfg.in_channels, cfg.ch, 3)
        last = len(widths) - 1
        self.down = nn.ModuleList(
            Level(cfg.ch if i == 0 else widths[i - 1], w, cfg.num_res_blocks, "downsample" if i < last else None)
            for i, w in enumerate(widths)
        )
        self.mid = MidBlock(widths[-1])
        self.norm_out = PixelNorm()
        self.conv_out = CausalConv2d(widths[-1], 2 * cfg.z_channels if cfg.double_z else cfg.z_channels, 3)
        self.per_channel_statistics = LatentStatistics(cfg.z_channels, cfg.latent_mel_bins)

    def forward(self, mel):
        h = self.conv_in(mel.to(compute_dtype(self, self.conv_in.conv)))
        for level in self.down:
            h = level(h)
        h = self.conv_out(F.silu(self.norm_out(self.mid(h))))
        means = h[:, : self.cfg.z_channels]  # with double_z the rest is the log-variance, unused at inference
        return self.per_channel_statistics.normalize(means)


class AudioDecoder(nn.Module):
    """Normalised latent [B, z_channels, T, mel_bins/4] -> log-mel [B, out_ch, 4T - 3, mel_bins]."""

    def __init__(self, cfg: AudioVAEConfig):
        super().__init__()
        self.cfg = cfg
        widths = [cfg.ch * m for m in cfg.ch_mult]
        self.per_channel_statistics = LatentStatistics(cfg.z_channels, cfg.latent_mel_bins)
        self.conv_in = CausalConv2d(cfg.z_channels, widths[-1], 3)
        self.mid = MidBlock(widths[-1])
        # up[i] mirrors down[i]; they run from the coarsest (last) to the finest (up[0]).
        self.up = nn.ModuleList(
            Level(widths[i + 1] if i < len(widths) - 1 else widths[-1], w, cfg.num_res_blocks + 1, "upsample" if i > 0 else None)
            for i, w in enumerate(widths)
        )
        self.norm_out = PixelNorm()
        self.conv_out = CausalConv2d(widths[0], cfg.out_ch, 3)

    def forward(self, latent):
        frames = mel_frames_for_latents(latent.shape[2])
        h = self.per_channel_statistics.denormalize(latent.to(compute_dtype(self, self.conv_in.conv)))
        h = self.mid(self.conv_in(h))
        for level in reversed(self.up):
            h = level(h)
        h = self.conv_out(F.silu(self.norm_out(h)))
        # Already 4T - 3 frames and mel_bins wide when the levels are x2 each; crop / zero-pad otherwise.
        h = h[:, :, :frames, : self.cfg.mel_bins]
        return F.pad(h, (0, self.cfg.mel_bins - h.shape[3], 0, frames - h.shape[2]))
