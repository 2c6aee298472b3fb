"""Measure the working memory of a piece of engine code: the peak of the bytes its tensors hold.

:class:`LiveBytes` is a ``TorchDispatchMode`` that sees every tensor an aten op returns while it is active,
counts each new storage once (views and in-place results share their input's storage) and uncounts it when
the storage is freed (a weak reference to the storage fires). Tensors that existed before (weights, inputs)
are not counted, so the peak is the call's own transient memory, outputs included.

Under :func:`fake_tensors` the same code runs on fake tensors (shapes and dtypes, no data): full-size
modules are built and run in seconds with no memory, which is how the full-size numbers in
:mod:`ltx2.memory.activations` were checked. Data-dependent ops cannot run without data; ``torch.unique``
(the DiT embeds each distinct timestep once) answers as if every value were equal, as in a chunk's forward
at one sigma.

Not seen: memory a kernel allocates inside itself (convolution and attention workspaces; under inference
mode also the intermediates of composite ops, so :func:`peak_bytes` turns it off), the allocator's rounding and
fragmentation, the CUDA context. The numbers are lower bounds of what a GPU allocator reports.
"""

from __future__ import annotations

import weakref
from typing import Any, Callable

import torch
from torch._subclasses.fake_tensor import FakeTensor, FakeTensorMode
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_leaves

_UNIQUE = torch.ops.aten._unique2.default  # what torch.unique calls without ``dim``


def _single_level_unique(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``torch.unique`` of a fake tensor, answered as if all its values were equal: one level, every inverse
    index 0, one count."""
    inverse = torch.zeros(x.shape, dtype=torch.long, device=x.device)
    return x.new_zeros(1), inverse, torch.full((1,), x.numel(), dtype=torch.long, device=x.device)


class LiveBytes(TorchDispatchMode):
    """Tracks the bytes held by storages created while active: ``current`` and ``peak``."""

    def __init__(self):
        super().__init__()
        self.current = 0
        self.peak = 0
        self._live: dict[int, weakref.ref] = {}

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func is _UNIQUE and isinstance(args[0], FakeTensor):
            out = _single_level_unique(args[0])
        else:
            out = func(*args, **kwargs)
        inputs = {id(t.untyped_storage()) for t in tree_leaves((args, kwargs)) if isinstance(t, torch.Tensor)}
        for t in tree_leaves(out):
            if isinstance(t, torch.Tensor) and id(t.untyped_storage()) not in inputs:
                self._track(t)
        return out

    def _track(self, t: torch.Tensor) -> None:
        storage = t.untyped_storage()
        key = id(storage)
        known = self._live.get(key)
        if known is not None and known() is storage:
            return
        size = storage.nbytes()
        self._live[key] = weakref.ref(storage, lambda _, key=key, size=size: self._free(key, size))
        self.current += size
        self.peak = max(self.peak, self.current)

    def _free(self, key: int, size: int) -> None:
        self._live.pop(key, None)
        self.current -= size


def peak_bytes(fn: Callable[[], Any]) -> int:
    """Run ``fn()`` and return the peak of the bytes held by tensors it created (its result dropped at once).

    It runs under ``no_grad`` with inference mode off, whatever the caller's mode: inference mode hands composite
    ops (``rms_norm``) to their kernel whole, which would hide the intermediates they allocate from the tracker.
    """
    tracker = LiveBytes()
    with torch.inference_mode(False), torch.no_grad(), tracker:
        fn()
    return tracker.peak


def fake_tensors() -> FakeTensorMode:
    """A mode in which modules and inputs are built as fake tensors (enter it with ``with``)."""
    return FakeTensorMode(allow_non_fake_inputs=True)
