"""A Linear whose weight stays in fp8 in memory (weight-only fp8), and the conversions to and from it.

The official fp8 files store each block Linear as ``float8_e4m3fn`` with a ``weight_scale`` (one value, or one
per output row in some Gemma files): ``W = float32(W_fp8) * scale``. :class:`Fp8Linear` keeps exactly that on
the device (about 1 byte per parameter instead of 2) and rebuilds ``W`` in the input's dtype inside each
forward, with the same float32 arithmetic the dequantise-at-load path uses, so its output is bit-identical to
that path's. With ``fp8_matmul`` on (and a device with fp8 matmuls: CUDA compute capability 8.9+, or the CPU),
the activation is quantised as well (the file's ``input_scale`` where it has one, else its own absolute max) and
the product runs as one scaled fp8 matmul: faster, no longer bit-identical.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

FP8 = torch.float8_e4m3fn
FP8_MAX = float(torch.finfo(FP8).max)  # 448


def dequantize(weight: torch.Tensor, scale: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """``float32(weight) * scale`` (a scalar scale, or one per output row) in ``dtype``."""
    scale = scale.to(torch.float32)
    scale = scale.reshape(()) if scale.numel() == 1 else scale.reshape(-1, *[1] * (weight.dim() - 1))
    return (weight.to(torch.float32) * scale).to(dtype)


def quantize(weight: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(fp8 weight, float32 scalar scale) with the tensor's absolute max mapped to the fp8 range."""
    w = weight.to(torch.float32)
    scale = (w.abs().max() / FP8_MAX).clamp(min=torch.finfo(torch.float32).tiny)
    return (w / scale).clamp(-FP8_MAX, FP8_MAX).to(FP8), scale.reshape(1)


def fp8_matmul_supported(device: torch.device) -> bool:
    if device.type == "cuda":
        return torch.cuda.get_device_capability(device) >= (8, 9)
    return device.type == "cpu"


class Fp8Linear(nn.Linear):
    """``nn.Linear`` with ``weight`` in fp8 plus ``weight_scale`` (and, if the file has one, ``input_scale``)."""

    def __init__(self, in_features: int, out_features: int, bias: bool, *, scale_shape=(1,), input_scale_shape=None, device=None):
        nn.Module.__init__(self)
        self.in_features, self.out_features = in_features, out_features
        self.weight = nn.Parameter(torch.empty(out_features, in_features, dtype=FP8, device=device), requires_grad=False)
        self.register_parameter("bias", nn.Parameter(torch.empty(out_features, device=device), requires_grad=False) if bias else None)
        self.register_buffer("weight_scale", torch.empty(scale_shape, dtype=torch.float32, device=device))
        if input_scale_shape is not None:
            self.register_buffer("input_scale", torch.empty(input_scale_shape, dtype=torch.float32, device=device))
        else:
            self.input_scale = None
        self.fp8_matmul = False

    @classmethod
    def like(cls, linear: nn.Linear, *, scale_shape=(1,), input_scale_shape=None) -> "Fp8Linear":
        """An (empty) fp8 twin of ``linear``, on its device (usually meta, before a load)."""
        return cls(linear.in_features, linear.out_features, linear.bias is not None, scale_shape=scale_shape,
                   input_scale_shape=input_scale_shape, device=linear.weight.device)  # fmt: skip

    def compute_weight(self, dtype: torch.dtype) -> torch.Tensor:
        return dequantize(self.weight, self.weight_scale, dtype)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.fp8_matmul and self._can_scaled_mm(x):
            return self._scaled_mm(x)
        return F.linear(x, self.compute_weight(x.dtype), self.bias)

    def _can_scaled_mm(self, x: torch.Tensor) -> bool:
        return self.weight_scale.numel() == 1 and self.in_features % 16 == 0 and self.out_features % 16 == 0 and fp8_matmul_supported(x.device)

    def _scaled_mm(self, x: torch.Tensor) -> torch.Tensor:
        flat = x.reshape(-1, self.in_features)
        if self.input_scale is not None:
            x_scale = self.input_scale.reshape(()).to(torch.float32)
        else:
            x_scale = (flat.abs().max().to(torch.float32) / FP8_MAX).clamp(min=torch.finfo(torch.float32).tiny)
        xq = (flat.to(torch.float32) / x_scale).clamp(-FP8_MAX, FP8_MAX).to(FP8)
        bias = None if self.bias is None else self.bias.to(x.dtype)
        out = torch._scaled_mm(xq, self.weight.t(), scale_a=x_scale, scale_b=self.weight_scale.reshape(()), bias=bias, out_dtype=x.dtype)
        return out.reshape(*x.shape[:-1], self.out_features)


def set_fp8_matmul(model: nn.Module, enabled: bool) -> int:
    """Switch the scaled fp8 matmul of every :class:`Fp8Linear` in ``model``; returns how many there are."""
    layers = [m for m in model.modules() if isinstance(m, Fp8Linear)]
    for layer in layers:
        layer.fp8_matmul = enabled
    return len(layers)


@torch.no_grad()
def quantize_linears(model: nn.Module, under: str = "") -> int:
    """Replace every ``nn.Linear`` of ``model`` whose path starts with ``under`` by an :class:`Fp8Linear` holding
    its weight quantised per tensor (a model already in memory; files are quantised as they load instead).
    Returns how many were replaced."""
    count = 0
    for path, module in list(model.named_modules()):
        if type(module) is not nn.Linear or not path.startswith(under):
            continue
        fp8 = Fp8Linear.like(module)
        weight, scale = quantize(module.weight)
        fp8.weight = nn.Parameter(weight.to(module.weight.device), requires_grad=False)
        fp8.weight_scale = scale.to(module.weight.device)
        if module.bias is not None:
            fp8.bias = nn.Parameter(module.bias.detach(), requires_grad=False)
        parent, _, name = path.rpartition(".")
        setattr(model.get_submodule(parent) if parent else model, name, fp8)
        count += 1
    return count
