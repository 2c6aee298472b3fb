"""Build a component on the ``meta`` device and stream its weights straight to the target device and dtype.

Strict: every key of the module must come from the file and every key of the file (after the caller drops
the known-unused ones) must land in the module, or a :class:`CheckpointMismatch` names them. The check reads
shapes only; then tensors are read, converted and placed one at a time (:func:`stream_into`), so a load never
holds a second copy of the component.
"""

from __future__ import annotations

import ctypes
from typing import Callable, Mapping

import torch
from torch import nn

from ..model.ops import set_compute_dtype
from .lazy import LazyTensor, Source, as_lazy

FP8_DTYPES = (torch.float8_e4m3fn, torch.float8_e5m2)


class CheckpointMismatch(ValueError):
    pass


def _describe(keys: list[str], limit: int = 8) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f" ... ({len(keys) - limit} more)" if len(keys) > limit else "")


def build_on_meta(builder: Callable[[], nn.Module]) -> nn.Module:
    with torch.device("meta"):
        return builder()


def return_freed_memory() -> None:
    """Hand freed CPU memory back to the OS. glibc keeps freed blocks below its mmap threshold (up to 32 MiB) in
    its heap, so the read buffers of a converted load, or weights freed by the offload, would still count against
    the machine; ``malloc_trim`` releases them (a no-op where there is no glibc)."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _owner(module: nn.Module, key: str) -> tuple[nn.Module, str]:
    """(the submodule holding ``key``, the tensor's name there)."""
    path, _, name = key.rpartition(".")
    return (module.get_submodule(path) if path else module), name


def get_local(owner: nn.Module, name: str) -> torch.Tensor:
    """``owner``'s own parameter or buffer ``name``."""
    return owner._parameters[name] if name in owner._parameters else owner._buffers[name]


def set_local(owner: nn.Module, name: str, tensor: torch.Tensor) -> None:
    """Replace ``owner``'s own parameter or buffer ``name`` by ``tensor`` (any device, including meta)."""
    if name in owner._parameters:
        owner._parameters[name] = nn.Parameter(tensor, requires_grad=False)
    elif name in owner._buffers:
        owner._buffers[name] = tensor
    else:
        raise KeyError(name)


def convert(tensor: torch.Tensor, like: torch.Tensor, device, dtype: torch.dtype | None, key: str = "") -> torch.Tensor:
    """``tensor`` on ``device``; floating tensors in ``dtype`` unless the module keeps this one in fp8."""
    if like.dtype in FP8_DTYPES:
        if tensor.dtype != like.dtype:
            raise CheckpointMismatch(f"{key}: the fp8 layer was given a {tensor.dtype} tensor")
        return tensor.to(device)
    if dtype is not None and tensor.is_floating_point():
        return tensor.to(device=device, dtype=dtype)
    return tensor.to(device)


def stream_into(module: nn.Module, state: Mapping[str, torch.Tensor | LazyTensor], *, device="cpu", dtype: torch.dtype | None = None, keys=None, defer: bool = False) -> None:
    """Read, convert and place the tensors of ``state`` one at a time (``keys``: only these, e.g. to reload one
    block). The module's current tensors (often on meta) give each one's target dtype. ``defer``: read nothing,
    only give the meta tensors their final dtypes (the weights come in when the module is first used)."""
    for key in state if keys is None else keys:
        lazy = as_lazy(state[key])
        source = torch.empty(lazy.shape, dtype=lazy.dtype, device="meta") if defer else lazy.load()
        owner, name = _owner(module, key)  # one lookup per key, not a walk of the whole module
        set_local(owner, name, convert(source, get_local(owner, name), "meta" if defer else device, dtype, key))


def load_into(module: nn.Module, state: Mapping[str, torch.Tensor | LazyTensor], *, device="cpu", dtype: torch.dtype | None = None, what: str = "component", defer: bool = False) -> nn.Module:
    """Stream ``state`` (tensors or :class:`LazyTensor`) into a meta-built ``module``, strictly. ``defer`` (a
    lazy state only): check it, leave the weights on meta, and let the offload read them when first needed."""
    expected = module.state_dict(keep_vars=True)
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    wrong = sorted(k for k in set(expected) & set(state) if tuple(expected[k].shape) != tuple(state[k].shape))
    problems = []
    if missing:
        problems.append(f"missing {len(missing)} key(s): {_describe(missing)}")
    if unexpected:
        problems.append(f"unexpected {len(unexpected)} key(s): {_describe(unexpected)}")
    if wrong:
        problems.append("wrong shape: " + _describe([f"{k} file {list(state[k].shape)} vs model {list(expected[k].shape)}" for k in wrong]))
    if problems:
        raise CheckpointMismatch(f"{what}: the file does not match the model built from its config: " + "; ".join(problems))
    lazy = bool(state) and all(isinstance(v, LazyTensor) for v in state.values())
    if defer and not lazy:
        raise ValueError(f"{what}: only a state read from a file can be deferred")
    stream_into(module, state, device=device, dtype=dtype, defer=defer)
    if dtype is not None:
        set_compute_dtype(module, dtype)
    if not defer and torch.device(device).type == "cpu":
        return_freed_memory()
    if lazy:
        module.weights_source = Source(state, dtype)
    if defer:
        return module.eval()
    leftover = [n for n, t in [*module.named_parameters(), *module.named_buffers()] if t.is_meta]
    if leftover:
        raise CheckpointMismatch(f"{what}: tensors not loaded from the file (still on meta): {_describe(leftover)}")
    return module.eval()
