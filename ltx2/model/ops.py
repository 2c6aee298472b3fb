"""The operations namespace: where the model code takes its layer classes from.

Every weight-holding layer of the engine's networks (``Linear``, ``Conv1d/2d/3d``, ``ConvTranspose1d``,
``GroupNorm``, ``RMSNorm``) is built as ``layers().Linear(...)`` and so on. By default :func:`layers` is
``torch.nn`` itself, so the engine standalone is plain PyTorch. A host may build a model inside
:func:`operations` with a namespace of its own that has the same classes (subclasses of torch's, with the same
constructor and parameter names), for example ComfyUI's ``comfy.ops`` layers, which its model management can
leave on the offload device and cast to the compute device layer by layer.

A namespace may also offer ``Fp8Linear``: the layer the loaders put where a Linear keeps its weight in fp8
(default :class:`ltx2.model.fp8_linear.Fp8Linear`).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import torch
from torch import nn

LAYER_CLASSES = ("Linear", "Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "GroupNorm", "RMSNorm")
CASTABLE = ("transformer",)
"""The networks whose forward brings their own tensors that belong to no layer (the DiT's modulation tables) to
the input's device and dtype: built from casting layers, any of their weights may stay on another device. The
others (VAEs, vocoder, upsampler, text path) expect all their weights where they compute."""
_current: ContextVar = ContextVar("ltx2_operations", default=nn)


def layers():
    """The namespace layers are built from now (``torch.nn`` unless inside :func:`operations`)."""
    return _current.get()


def fp8_linear_class() -> type:
    from .fp8_linear import Fp8Linear

    return getattr(layers(), "Fp8Linear", Fp8Linear)


@contextmanager
def operations(namespace) -> Iterator[None]:
    """Build models with ``namespace``'s layer classes (None: torch's) for the length of the block."""
    missing = [name for name in LAYER_CLASSES if namespace is not None and not hasattr(namespace, name)]
    if missing:
        raise TypeError(f"operations namespace {namespace!r} lacks {', '.join(missing)}")
    token = _current.set(nn if namespace is None else namespace)
    try:
        yield
    finally:
        _current.reset(token)


def compute_dtype(network: nn.Module, layer: nn.Module) -> torch.dtype:
    """The dtype ``network`` computes in: the one its loader gave it (:func:`set_compute_dtype`: a host's layers
    may store their weights in another dtype, or on another device, and cast them as they run), else ``layer``'s
    weight dtype."""
    return network.__dict__.get("compute_dtype") or layer.weight.dtype


def set_compute_dtype(network: nn.Module, dtype: torch.dtype) -> None:
    """Record ``dtype`` as the compute dtype of ``network`` and of every module in it."""
    for module in network.modules():
        module.compute_dtype = dtype
