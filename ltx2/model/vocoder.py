"""Vocoders: log-mel [B, 2, T, 64] -> stereo waveform.

* LTX-2: HiFi-GAN (LeakyReLU residual stacks), T * 240 samples at 24 kHz.
* LTX-2.3: a BigVGAN-v2-style generator (anti-aliased SnakeBeta) makes 16 kHz; a bandwidth extension (BWE)
  lifts it to 48 kHz: a second generator predicts a residual from the causal log-mel of the 16 kHz signal,
  added to a band-limited x3 resampling of it.

Both generators share one layout: conv_pre, per stage a transposed conv (x rate) followed by the average of
3 dilated residual stacks, then conv_post. Stereo is folded into channels (index = stereo * 64 + mel).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..audio.resample import resample
from .ops import compute_dtype, layers

LEAKY_SLOPE = 0.1


@dataclass(frozen=True)
class GeneratorConfig:
    upsample_initial_channel: int = 1024
    upsample_rates: tuple[int, ...] = (6, 5, 2, 2, 2)
    upsample_kernel_sizes: tuple[int, ...] = (16, 15, 8, 4, 4)
    resblock_kernel_sizes: tuple[int, ...] = (3, 7, 11)
    resblock_dilation_sizes: tuple[tuple[int, ...], ...] = ((1, 3, 5), (1, 3, 5), (1, 3, 5))
    snake: bool = False  # resblock "AMP1" with anti-aliased SnakeBeta; else HiFi-GAN "1" with LeakyReLU
    final: str | None = "tanh"  # "tanh", "clamp" or None
    bias_at_final: bool = True
    sample_rate: int = 24_000
    mel_bins: int = 64

    @classmethod
    def from_config(cls, cfg: dict, *, final_activation: bool = True, sample_rate: int | None = None) -> "GeneratorConfig":
        kind = cfg.get("resblock", "1")
        if kind not in ("1", "AMP1") or (kind == "AMP1" and cfg.get("activation", "snake") != "snakebeta"):
            raise ValueError(f"vocoder: unsupported resblock / activation {kind!r} / {cfg.get('activation')!r}")
        if not cfg.get("stereo", True):
            raise ValueError("vocoder: only stereo vocoders are supported")
        final = None
        if final_activation and cfg.get("apply_final_activation", True):
            final = "tanh" if cfg.get("use_tanh_at_final", True) else "clamp"
        return cls(
            upsample_initial_channel=cfg.get("upsample_initial_channel", 1024),
            upsample_rates=tuple(cfg.get("upsample_rates", (6, 5, 2, 2, 2))),
            upsample_kernel_sizes=tuple(cfg.get("upsample_kernel_sizes", (16, 15, 8, 4, 4))),
            resblock_kernel_sizes=tuple(cfg.get("resblock_kernel_sizes", (3, 7, 11))),
            resblock_dilation_sizes=tuple(tuple(d) for d in cfg.get("resblock_dilation_sizes", ((1, 3, 5),) * 3)),
            snake=kind == "AMP1",
            final=final,
            bias_at_final=cfg.get("use_bias_at_final", True),
            sample_rate=sample_rate or cfg.get("output_sampling_rate", 24_000),
        )

    @property
    def hop(self) -> int:
        """Output samples per mel frame."""
        hop = 1
        for r in self.upsample_rates:
            hop *= r
        return hop


# ---- anti-aliased SnakeBeta (BigVGAN-v2 style); the filters are stored in the checkpoint -----------------


class SnakeBeta(nn.Module):
    """x + sin^2(x * e^alpha) / (e^beta + 1e-9), per channel (alpha, beta stored as logs)."""

    def __init__(self, channels: int):
        super().__init__()
        self.alpha = nn.Parameter(torch.empty(channels))
        self.beta = nn.Parameter(torch.empty(channels))

    def forward(self, x):
        alpha = torch.exp(self.alpha)[None, :, None]
        beta = torch.exp(self.beta)[None, :, None]
        return x + (1.0 / (beta + 1e-9)) * torch.sin(x * alpha).pow(2)


class Upsample2x(nn.Module):
    """x2 by a depthwise transposed conv with the stored low-pass ``filter`` [1, 1, K], edges replicated."""

    def __init__(self, kernel_size: int = 12):
        super().__init__()
        self.register_buffer("filter", torch.empty(1, 1, kernel_size))
        self.pad = kernel_size // 2 - 1  # input samples replicated at each edge
        self.crop = (2 * self.pad + (kernel_size - 2) // 2, 2 * self.pad + (kernel_size - 1) // 2)  # dropped outputs

    def forward(self, x):
        c = x.shape[1]
        x = F.pad(x, (self.pad, self.pad), mode="replicate")
        x = 2 * F.conv_transpose1d(x, self.filter.to(x).expand(c, -1, -1), stride=2, groups=c)
        return x[..., self.crop[0] : x.shape[-1] - self.crop[1]]


class Lowpass(nn.Module):
    """Depthwise low-pass with the stored ``filter`` [1, 1, K], stride 2, edges replicated."""

    def __init__(self, kernel_size: int = 12):
        super().__init__()
        self.register_buffer("filter", torch.empty(1, 1, kernel_size))
        self.pad = (kernel_size // 2 - (1 - kernel_size % 2), kernel_size // 2)

    def forward(self, x):
        c = x.shape[1]
        x = F.pad(x, self.pad, mode="replicate")
        return F.conv1d(x, self.filter.to(x).expand(c, -1, -1), stride=2, groups=c)


class Downsample2x(nn.Module):
    def __init__(self, kernel_size: int = 12):
        super().__init__()
        self.lowpass = Lowpass(kernel_size)

    def forward(self, x):
        return self.lowpass(x)


class AntiAliasedSnake(nn.Module):
    """SnakeBeta applied at twice the rate (up x2, act, low-pass down x2) so its harmonics do not alias."""

    def __init__(self, channels: int):
        super().__init__()
        self.act = SnakeBeta(channels)
        self.upsample = Upsample2x()
        self.downsample = Downsample2x()

    def forward(self, x):
        return self.downsample(self.act(self.upsample(x)))


# ---- generators ----------------------------------------------------------------------------------------


class ResidualStack(nn.Module):
    """Three residual units x += conv2(act(conv1(act(x)))), conv1 dilated by d[i], 'same' lengths."""

    def __init__(self, channels: int, kernel_size: int, dilations: tuple[int, ...], snake: bool):
        super().__init__()

        def conv(d):
            return layers().Conv1d(channels, channels, kernel_size, dilation=d, padding=(kernel_size - 1) * d // 2)

        self.convs1 = nn.ModuleList(conv(d) for d in dilations)
        self.convs2 = nn.ModuleList(conv(1) for _ in dilations)
        if snake:
            self.acts1 = nn.ModuleList(AntiAliasedSnake(channels) for _ in dilations)
            self.acts2 = nn.ModuleList(AntiAliasedSnake(channels) for _ in dilations)
        self.snake = snake

    def forward(self, x):
        for i, (conv1, conv2) in enumerate(zip(self.convs1, self.convs2)):
            h = conv1(self.acts1[i](x) if self.snake else F.leaky_relu(x, LEAKY_SLOPE))
            x = x + conv2(self.acts2[i](h) if self.snake else F.leaky_relu(h, LEAKY_SLOPE))
        return x


class Generator(nn.Module):
    """log-mel [B, 2, T, mel_bins] -> waveform [B, 2, T * hop]."""

    def __init__(self, cfg: GeneratorConfig):
        super().__init__()
        self.cfg = cfg
        self.sample_rate = cfg.sample_rate
        widths = [cfg.upsample_initial_channel // 2**i for i in range(len(cfg.upsample_rates) + 1)]
        self.conv_pre = layers().Conv1d(2 * cfg.mel_bins, widths[0], 7, padding=3)
        self.ups = nn.ModuleList(
            layers().ConvTranspose1d(widths[i], widths[i + 1], k, r, padding=(k - r) // 2)
            for i, (r, k) in enumerate(zip(cfg.upsample_rates, cfg.upsample_kernel_sizes))
        )
        self.resblocks = nn.ModuleList(
            ResidualStack(w, k, d, cfg.snake)
            for w in widths[1:]
            for k, d in zip(cfg.resblock_kernel_sizes, cfg.resblock_dilation_sizes)
        )
        if cfg.snake:
            self.act_post = AntiAliasedSnake(widths[-1])
        self.conv_post = layers().Conv1d(widths[-1], 2, 7, padding=3, bias=cfg.bias_at_final)

    def forward(self, mel):
        b, s, t, m = mel.shape  # s = 2 (stereo)
        x = mel.to(compute_dtype(self, self.conv_pre)).permute(0, 1, 3, 2).reshape(b, s * m, t)
        x = self.conv_pre(x)
        per_stage = len(self.cfg.resblock_kernel_sizes)
        for i, up in enumerate(self.ups):
            if not self.cfg.snake:
                x = F.leaky_relu(x, LEAKY_SLOPE)
            x = up(x)
            stacks = self.resblocks[i * per_stage : (i + 1) * per_stage]
            x = torch.stack([stack(x) for stack in stacks]).mean(dim=0)
        x = self.act_post(x) if self.cfg.snake else F.leaky_relu(x, 0.01)
        x = self.conv_post(x)
        if self.cfg.final == "tanh":
            x = torch.tanh(x)
        elif self.cfg.final == "clamp":
            x = x.clamp(-1, 1)
        return x


# ---- LTX-2.3 bandwidth extension ----------------------------------------------------------------------


class StftBases(nn.Module):
    """Stored STFT as a conv: ``forward_basis`` [2 * bins, 1, n_fft] (real rows, then imaginary rows, already
    windowed). ``inverse_basis`` is stored with it and unused at inference."""

    def __init__(self, n_fft: int):
        super().__init__()
        bins = n_fft // 2 + 1
        self.register_buffer("forward_basis", torch.empty(2 * bins, 1, n_fft))
        self.register_buffer("inverse_basis", torch.empty(2 * bins, 1, n_fft))


class CausalLogMel(nn.Module):
    """Waveform [N, S] -> log-mel [N, n_mels, S // hop]: frames end at their sample (left pad n_fft - hop only)."""

    def __init__(self, n_fft: int, hop: int, n_mels: int):
        super().__init__()
        self.hop = hop
        self.n_fft = n_fft
        self.stft_fn = StftBases(n_fft)
        self.register_buffer("mel_basis", torch.empty(n_mels, n_fft // 2 + 1))

    def forward(self, y):
        y = F.pad(y[:, None], (self.n_fft - self.hop, 0))
        spec = F.conv1d(y, self.stft_fn.forward_basis.to(y), stride=self.hop)
        real, imag = spec.chunk(2, dim=1)
        magnitude = torch.sqrt(real**2 + imag**2)
        mel = self.mel_basis.to(y) @ magnitude
        return torch.log(mel.clamp_min(1e-5))


class BandwidthExtendedVocoder(nn.Module):
    """LTX-2.3: ``vocoder`` (mel -> 16 kHz), then ``bwe_generator`` + x3 skip (-> 48 kHz)."""

    def __init__(self, vocoder: GeneratorConfig, bwe: GeneratorConfig, *, n_fft: int, hop: int, n_mels: int, input_rate: int):
        super().__init__()
        self.vocoder = Generator(vocoder)
        self.bwe_generator = Generator(bwe)
        self.mel_stft = CausalLogMel(n_fft, hop, n_mels)
        self.hop = hop
        self.input_rate = input_rate
        self.sample_rate = bwe.sample_rate

    def stages(self, mel) -> dict[str, torch.Tensor]:
        """Every intermediate: ``waveform_16k`` [B,2,S], ``bwe_mel`` [B,2,n_mels,frames], ``bwe_residual``,
        ``bwe_skip`` and ``waveform`` [B,2,S * ratio]."""
        low = self.vocoder(mel)
        b, c, length = low.shape
        x = F.pad(low, (0, -length % self.hop))  # whole STFT frames
        bwe_mel = self.mel_stft(x.reshape(b * c, -1))
        bwe_mel = bwe_mel.reshape(b, c, *bwe_mel.shape[1:])
        residual = self.bwe_generator(bwe_mel.transpose(2, 3))
        skip = resample(x, self.input_rate, self.sample_rate, edge="replicate")
        out_length = length * self.sample_rate // self.input_rate
        waveform = (residual + skip).clamp(-1, 1)[..., :out_length]
        return {"waveform_16k": low, "bwe_mel": bwe_mel, "bwe_residual": residual, "bwe_skip": skip, "waveform": waveform}

    def forward(self, mel):
        return self.stages(mel)["waveform"]


def build_vocoder(cfg: dict) -> Generator | BandwidthExtendedVocoder:
    """From a checkpoint's ``config["vocoder"]``: flat (LTX-2 HiFi-GAN) or nested ``vocoder`` + ``bwe`` (LTX-2.3)."""
    if "bwe" not in cfg:
        return Generator(GeneratorConfig.from_config(cfg))
    bwe = cfg["bwe"]
    return BandwidthExtendedVocoder(
        GeneratorConfig.from_config(cfg.get("vocoder", {}), sample_rate=bwe["input_sampling_rate"]),
        GeneratorConfig.from_config(bwe, final_activation=False, sample_rate=bwe["output_sampling_rate"]),
        n_fft=bwe["n_fft"],
        hop=bwe["hop_length"],
        n_mels=bwe["num_mels"],
        input_rate=bwe["input_sampling_rate"],
    )
