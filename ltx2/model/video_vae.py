"""LTX-2 / LTX-2.3 video VAE: a causal 3-D convolutional encoder and decoder.

Pixels [B, 3, F, H, W] in [-1, 1] <-> normalised latents [B, C, F', H', W'] with F = 8(F'-1) + 1 and
H = 32 H', W = 32 W' for both released configs. The architecture is read from the checkpoint's
``config["vae"]``: a 4x4 patchify (space-to-depth), then the encoder's block list (``res_x`` stages and
``compress_{space,time,all}_res`` space-to-depth downsamplers) and the decoder's block list, built in reverse
(``res_x`` stages and ``compress_{space,time,all}`` depth-to-space upsamplers, optionally residual).

Time is causal: latent frame 0 holds pixel frame 0 alone, every later latent frame holds 8 pixel frames.
The encoder pads time by repeating the first frame (twice in front of every 3-tap conv); the decoder pads
symmetrically unless ``causal_decoder`` is set, and every temporal upsample drops its first output frame.

Latent statistics: the encoder returns (mean - mean_of_means) / std_of_means per channel and the decoder
undoes it; the same two vectors are loaded into both.

Users' frames are [F, H, W, 3] floats in 0..1; :func:`frames_to_pixels` / :func:`pixels_to_frames` convert
at the model boundary.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .adaln import TimestepEmbedder
from .ops import compute_dtype, layers

STATISTICS = ("mean-of-means", "std-of-means")
"""Buffer names of :class:`LatentStatistics` (the official key names)."""


# ----------------------------------------------------------------------------------------------------------
# Config


def _params(raw) -> dict:
    """A block's parameters: the official files write either ``{"num_layers": n, ...}`` or a bare ``n``."""
    return {"num_layers": raw} if isinstance(raw, int) else dict(raw)


_STRIDES = {"space": (1, 2, 2), "time": (2, 1, 1), "all": (2, 2, 2)}


@dataclass(frozen=True)
class VideoVAEConfig:
    latent_channels: int
    patch_size: int
    encoder_blocks: tuple[tuple[str, dict], ...]
    decoder_blocks: tuple[tuple[str, dict], ...]
    decoder_base_channels: int
    encoder_padding: str
    decoder_padding: str
    causal_decoder: bool
    timestep_conditioning: bool
    latent_log_var: str
    in_channels: int = 3
    out_channels: int = 3

    @classmethod
    def from_checkpoint_config(cls, config: dict) -> "VideoVAEConfig":
        """From the file's whole config (``config["vae"]``) or from the ``vae`` section itself."""
        vae = config.get("vae", config)
        if vae.get("dims", 3) != 3:
            raise ValueError(f"video VAE: only 3-D convolutions are supported, config has dims={vae.get('dims')}")
        if vae.get("norm_layer", "pixel_norm") != "pixel_norm":
            raise ValueError(f"video VAE: only pixel_norm is supported, config has {vae.get('norm_layer')!r}")
        if vae.get("_class_name", "CausalVideoAutoencoder") != "CausalVideoAutoencoder":
            raise ValueError(f"video VAE: unsupported class {vae['_class_name']!r} (expected CausalVideoAutoencoder)")
        # 2.3 writes one ``spatial_padding_mode``; older files may carry per-side keys; the defaults are the
        # original release's (encoder zeros, decoder reflect).
        shared = vae.get("spatial_padding_mode")
        return cls(
            latent_channels=vae.get("latent_channels", 128),
            patch_size=vae.get("patch_size", 4),
            encoder_blocks=tuple((name, _params(p)) for name, p in vae.get("encoder_blocks", [])),
            decoder_blocks=tuple((name, _params(p)) for name, p in vae.get("decoder_blocks", [])),
            decoder_base_channels=vae.get("decoder_base_channels", 128),
            encoder_padding=shared or vae.get("encoder_spatial_padding_mode", "zeros"),
            decoder_padding=shared or vae.get("decoder_spatial_padding_mode", "reflect"),
            causal_decoder=vae.get("causal_decoder", False),
            # The reference builder treats a missing key as True; both released configs set it to false.
            timestep_conditioning=vae.get("timestep_conditioning", True),
            latent_log_var=vae.get("latent_log_var", "uniform"),
            in_channels=vae.get("in_channels", 3),
            out_channels=vae.get("out_channels", 3),
        )

    def scale_factors(self) -> tuple[int, int, int]:
        """(time, height, width) compression of the decoder's block list: (8, 32, 32) for LTX-2 and 2.3."""
        time = space = 1
        for name, _ in self.decoder_blocks:
            if name.startswith("compress_"):
                stride = _STRIDES[name.removeprefix("compress_")]
                time, space = time * stride[0], space * stride[1]
        return time, space * self.patch_size, space * self.patch_size


# ----------------------------------------------------------------------------------------------------------
# Layout helpers


def space_to_depth(x: torch.Tensor, stride: tuple[int, int, int]) -> torch.Tensor:
    """[B, C, D*p1, H*p2, W*p3] -> [B, C*p1*p2*p3, D, H, W]; channel index c*p1*p2*p3 + i1*p2*p3 + i2*p3 + i3."""
    b, c, d, h, w = x.shape
    p1, p2, p3 = stride
    x = x.reshape(b, c, d // p1, p1, h // p2, p2, w // p3, p3)
    return x.permute(0, 1, 3, 5, 7, 2, 4, 6).reshape(b, c * p1 * p2 * p3, d // p1, h // p2, w // p3)


def depth_to_space(x: torch.Tensor, stride: tuple[int, int, int]) -> torch.Tensor:
    """Inverse of :func:`space_to_depth`."""
    b, c, d, h, w = x.shape
    p1, p2, p3 = stride
    c_out = c // (p1 * p2 * p3)
    x = x.reshape(b, c_out, p1, p2, p3, d, h, w)
    return x.permute(0, 1, 5, 2, 6, 3, 7, 4).reshape(b, c_out, d * p1, h * p2, w * p3)


def patchify(x: torch.Tensor, patch: int) -> torch.Tensor:
    """[B, C, F, H, W] -> [B, C*patch², F, H/patch, W/patch]; channel index c*patch² + w_offset*patch + h_offset."""
    b, c, f, h, w = x.shape
    x = x.reshape(b, c, f, h // patch, patch, w // patch, patch)
    return x.permute(0, 1, 6, 4, 2, 3, 5).reshape(b, c * patch * patch, f, h // patch, w // patch)


def unpatchify(x: torch.Tensor, patch: int) -> torch.Tensor:
    """Inverse of :func:`patchify`."""
    b, c, f, h, w = x.shape
    c_out = c // (patch * patch)
    x = x.reshape(b, c_out, patch, patch, f, h, w)  # (c, w_offset, h_offset)
    return x.permute(0, 1, 4, 5, 3, 6, 2).reshape(b, c_out, f, h * patch, w * patch)


def pixel_norm(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """RMS over channels at every position (no parameters)."""
    return x / torch.sqrt(torch.mean(x * x, dim=1, keepdim=True) + eps)


def frames_to_pixels(frames: torch.Tensor) -> torch.Tensor:
    """Users' frames [F, H, W, 3] in 0..1 -> the model's pixels [1, 3, F, H, W] in [-1, 1] (float32)."""
    if frames.ndim != 4 or frames.shape[-1] != 3:
        raise ValueError(f"frames must be [F, H, W, 3], got {list(frames.shape)}")
    return (frames.float() * 2.0 - 1.0).permute(3, 0, 1, 2).unsqueeze(0)


def pixels_to_frames(pixels: torch.Tensor) -> torch.Tensor:
    """The model's pixels [1, 3, F, H, W] (about [-1, 1]) -> frames [F, H, W, 3] in 0..1 (float32, clamped)."""
    if pixels.ndim != 5 or pixels.shape[0] != 1:
        raise ValueError(f"expected one clip [1, 3, F, H, W], got {list(pixels.shape)}")
    return ((pixels[0].float() + 1.0) * 0.5).clamp(0.0, 1.0).permute(1, 2, 3, 0)


# ----------------------------------------------------------------------------------------------------------
# Layers


class CausalConv3d(nn.Module):
    """3x3x3 conv, spatial padding by the conv (zeros/reflect), time padded by repeating edge frames.

    causal: two copies of the first frame in front; otherwise one copy of the first frame in front and one
    of the last behind. The weight lives at ``<name>.conv.weight`` as in the official files.
    """

    def __init__(self, in_channels: int, out_channels: int, padding_mode: str):
        super().__init__()
        self.conv = layers().Conv3d(in_channels, out_channels, 3, padding=(0, 1, 1), padding_mode=padding_mode)

    def forward(self, x: torch.Tensor, causal: bool) -> torch.Tensor:
        first, last = x[:, :, :1], x[:, :, -1:]
        x = torch.cat([first, first, x] if causal else [first, x, last], dim=2)
        return self.conv(x)


class LatentStatistics(nn.Module):
    """Per-channel mean and std of the latent means over the training set (buffers from the file)."""

    def __init__(self, channels: int):
        super().__init__()
        for name in STATISTICS:
            self.register_buffer(name, torch.empty(channels))

    def _stats(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        shape = (1, -1) + (1,) * (x.ndim - 2)
        return self.get_buffer("mean-of-means").view(shape).to(x), self.get_buffer("std-of-means").view(shape).to(x)

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        mean, std = self._stats(x)
        return (x - mean) / std

    def denormalize(self, x: torch.Tensor) -> torch.Tensor:
        mean, std = self._stats(x)
        return x * std + mean


class TimestepMLP(nn.Module):
    """The decoder's timestep embedding (keys ``timestep_embedder.linear_{1,2}``, present only when the config
    enables timestep conditioning): the DiT's sinusoid + MLP."""

    def __init__(self, dim: int):
        super().__init__()
        self.timestep_embedder = TimestepEmbedder(dim)

    def forward(self, t: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:  # t [B] -> [B, dim]
        return self.timestep_embedder(t).to(dtype)


def _modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    return x * (1 + scale) + shift


class ResBlock(nn.Module):
    """x + conv2(SiLU(norm(conv1(SiLU(norm(x)))))), with optional AdaLN after each norm from a timestep."""

    def __init__(self, channels: int, padding_mode: str, timestep_conditioning: bool):
        super().__init__()
        self.conv1 = CausalConv3d(channels, channels, padding_mode)
        self.conv2 = CausalConv3d(channels, channels, padding_mode)
        if timestep_conditioning:
            self.scale_shift_table = nn.Parameter(torch.empty(4, channels))

    def forward(self, x: torch.Tensor, causal: bool, temb: torch.Tensor | None = None) -> torch.Tensor:
        h = pixel_norm(x)
        if temb is not None:  # temb [B, 4, C, 1, 1, 1]
            shift1, scale1, shift2, scale2 = (self.scale_shift_table[None, :, :, None, None, None].to(h) + temb).unbind(1)
            h = _modulate(h, shift1, scale1)
        h = self.conv1(F.silu(h), causal)
        h = pixel_norm(h)
        if temb is not None:
            h = _modulate(h, shift2, scale2)
        h = self.conv2(F.silu(h), causal)
        return x + h


class ResStage(nn.Module):
    """A ``res_x`` block: ``num_layers`` residual blocks at one width."""

    def __init__(self, channels: int, num_layers: int, padding_mode: str, timestep_conditioning: bool = False):
        super().__init__()
        if timestep_conditioning:
            self.time_embedder = TimestepMLP(4 * channels)
        self.res_blocks = nn.ModuleList(ResBlock(channels, padding_mode, timestep_conditioning) for _ in range(num_layers))

    def forward(self, x: torch.Tensor, causal: bool, timestep: torch.Tensor | None = None) -> torch.Tensor:
        temb = None
        if timestep is not None:
            temb = self.time_embedder(timestep, x.dtype).view(x.shape[0], 4, -1, 1, 1, 1)
        for block in self.res_blocks:
            x = block(x, causal, temb)
        return x


class SpaceToDepthDown(nn.Module):
    """Encoder downsampler (``compress_*_res``): conv then space-to-depth, plus a parameter-free skip that
    space-to-depths the input and averages groups of consecutive channels down to the output width."""

    def __init__(self, in_channels: int, out_channels: int, stride: tuple[int, int, int], padding_mode: str):
        super().__init__()
        self.stride = stride
        self.group = in_channels * math.prod(stride) // out_channels
        self.conv = CausalConv3d(in_channels, out_channels // math.prod(stride), padding_mode)

    def forward(self, x: torch.Tensor, causal: bool = True) -> torch.Tensor:
        if self.stride[0] == 2:  # 1 + 2k frames -> 2 + 2k, so latent frame 0 still sees pixel frame 0 alone
            x = torch.cat([x[:, :, :1], x], dim=2)
        skip = space_to_depth(x, self.stride)
        b, c, d, h, w = skip.shape
        skip = skip.view(b, c // self.group, self.group, d, h, w).mean(dim=2)
        return space_to_depth(self.conv(x, causal), self.stride) + skip


class DepthToSpaceUp(nn.Module):
    """Decoder upsampler (``compress_*``): conv to prod(stride)*C/multiplier channels, depth-to-space, drop the
    first frame after a temporal x2 (2T -> 2T-1). ``residual`` adds the depth-to-space of the input, repeated
    along channels to the output width."""

    def __init__(self, in_channels: int, stride: tuple[int, int, int], multiplier: int, residual: bool, padding_mode: str):
        super().__init__()
        self.stride, self.multiplier, self.residual = stride, multiplier, residual
        self.conv = CausalConv3d(in_channels, math.prod(stride) * in_channels // multiplier, padding_mode)

    def forward(self, x: torch.Tensor, causal: bool) -> torch.Tensor:
        drop = 1 if self.stride[0] == 2 else 0
        out = depth_to_space(self.conv(x, causal), self.stride)[:, :, drop:]
        if self.residual:
            repeat = math.prod(self.stride) // self.multiplier
            out = out + depth_to_space(x, self.stride).repeat(1, repeat, 1, 1, 1)[:, :, drop:]
        return out


# ----------------------------------------------------------------------------------------------------------
# Encoder / decoder


def _log_var_channels(mode: str, channels: int) -> int:
    extra = {"uniform": 1, "constant": 1, "per_channel": channels, "none": 0}
    if mode not in extra:
        raise ValueError(f"video VAE: unknown latent_log_var {mode!r}")
    return extra[mode]


class VideoEncoder(nn.Module):
    """Pixels [B, 3, 1+8k, H, W] in [-1, 1] -> normalised latent means [B, C, 1+k, H/32, W/32] (no sampling)."""

    def __init__(self, cfg: VideoVAEConfig):
        super().__init__()
        self.cfg = cfg
        pad = cfg.encoder_padding
        width = cfg.latent_channels  # the encoder's first width is the latent width
        self.per_channel_statistics = LatentStatistics(cfg.latent_channels)
        self.conv_in = CausalConv3d(cfg.in_channels * cfg.patch_size**2, width, pad)
        blocks = []
        for name, params in cfg.encoder_blocks:
            if name == "res_x":
                blocks.append(ResStage(width, params["num_layers"], pad))
            elif name.startswith("compress_") and name.endswith("_res"):
                out = width * params.get("multiplier", 2)
                blocks.append(SpaceToDepthDown(width, out, _STRIDES[name[len("compress_") : -len("_res")]], pad))
                width = out
            else:
                raise ValueError(f"video VAE encoder: unsupported block {name!r}")
        self.down_blocks = nn.ModuleList(blocks)
        out_channels = cfg.latent_channels + _log_var_channels(cfg.latent_log_var, cfg.latent_channels)
        self.conv_out = CausalConv3d(width, out_channels, pad)

    def forward(self, pixels: torch.Tensor) -> torch.Tensor:
        return self.per_channel_statistics.normalize(self.means(pixels))

    def means(self, pixels: torch.Tensor) -> torch.Tensor:
        """The posterior means before normalisation (what the statistics were measured on)."""
        time, height, width = self.cfg.scale_factors()
        _, _, f, h, w = pixels.shape
        if (f - 1) % time or h % height or w % width:
            raise ValueError(f"video VAE encode: need {time}k+1 frames and sizes that are multiples of {height}x{width}, got {f} frames of {h}x{w}")
        x = self.conv_in(patchify(pixels.to(compute_dtype(self, self.conv_in.conv)), self.cfg.patch_size), True)
        for block in self.down_blocks:
            x = block(x, True)
        x = self.conv_out(F.silu(pixel_norm(x)), True)
        return x[:, : self.cfg.latent_channels].to(pixels.dtype)  # the other channels: the (unused) log-variance


class VideoDecoder(nn.Module):
    """Normalised latents [B, C, F', H', W'] -> pixels [B, 3, 8(F'-1)+1, 32H', 32W'] (about [-1, 1], unclamped).

    With ``timestep_conditioning`` (off in the released configs) the latent is first mixed with Gaussian noise
    (``decode_noise_scale``) and every ``res_x`` stage and the output norm are modulated by the timestep.
    """

    decode_timestep = 0.05
    decode_noise_scale = 0.025

    def __init__(self, cfg: VideoVAEConfig):
        super().__init__()
        self.cfg = cfg
        pad, tc = cfg.decoder_padding, cfg.timestep_conditioning
        width = cfg.decoder_base_channels
        for name, params in cfg.decoder_blocks:
            if name.startswith("compress_"):
                width *= params.get("multiplier", 1)
        self.per_channel_statistics = LatentStatistics(cfg.latent_channels)
        self.conv_in = CausalConv3d(cfg.latent_channels, width, pad)
        blocks = []
        for name, params in reversed(cfg.decoder_blocks):
            if name == "res_x":
                blocks.append(ResStage(width, params["num_layers"], pad, tc))
            elif name in ("compress_space", "compress_time", "compress_all"):
                multiplier = params.get("multiplier", 1)
                blocks.append(DepthToSpaceUp(width, _STRIDES[name.removeprefix("compress_")], multiplier, params.get("residual", False), pad))
                width //= multiplier
            else:
                raise ValueError(f"video VAE decoder: unsupported block {name!r}")
        self.up_blocks = nn.ModuleList(blocks)
        self.conv_out = CausalConv3d(width, cfg.out_channels * cfg.patch_size**2, pad)
        if tc:
            self.timestep_scale_multiplier = nn.Parameter(torch.empty(()))
            self.last_time_embedder = TimestepMLP(2 * width)
            self.last_scale_shift_table = nn.Parameter(torch.empty(2, width))

    def forward(self, latent: torch.Tensor, timestep: torch.Tensor | None = None, generator: torch.Generator | None = None) -> torch.Tensor:
        causal = self.cfg.causal_decoder
        x = latent.to(compute_dtype(self, self.conv_in.conv))
        scaled_t = None
        if self.cfg.timestep_conditioning:
            noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
            x = noise * self.decode_noise_scale + (1.0 - self.decode_noise_scale) * x
            if timestep is None:
                timestep = torch.full((x.shape[0],), self.decode_timestep, device=x.device, dtype=x.dtype)
            scaled_t = timestep.to(x) * self.timestep_scale_multiplier.to(x)
        x = self.conv_in(self.per_channel_statistics.denormalize(x), causal)
        for block in self.up_blocks:
            x = block(x, causal, scaled_t) if isinstance(block, ResStage) else block(x, causal)
        x = pixel_norm(x)
        if scaled_t is not None:
            temb = self.last_time_embedder(scaled_t, x.dtype).view(x.shape[0], 2, -1, 1, 1, 1)
            shift, scale = (self.last_scale_shift_table[None, :, :, None, None, None].to(x) + temb).unbind(1)
            x = _modulate(x, shift, scale)
        x = self.conv_out(F.silu(x), causal)
        return unpatchify(x, self.cfg.patch_size).to(latent.dtype)
