"""A tensor known by shape and dtype whose data is read only when a loader asks for it.

Loaders describe a component as ``{module key: LazyTensor}``, check it against the module built on ``meta``
(shapes only, nothing read), then stream it in: read one tensor, convert it, place it, drop the source. The
peak of a load is therefore the loaded weights plus one tensor, whatever the file's size or format.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping

import torch


@dataclass(frozen=True)
class LazyTensor:
    shape: tuple[int, ...]
    dtype: torch.dtype
    load: Callable[[], torch.Tensor]

    def then(self, convert: Callable[[torch.Tensor], torch.Tensor], dtype: torch.dtype | None = None) -> "LazyTensor":
        """The same tensor with ``convert`` applied after reading (``dtype``: the converted dtype, if it changes)."""
        source = self.load
        return LazyTensor(self.shape, dtype or self.dtype, lambda: convert(source()))


def quantized_at_load(weight: LazyTensor, scale_shape=(1,)) -> tuple[LazyTensor, LazyTensor]:
    """(fp8 weight, its scale) as two lazy reads of ONE quantisation of ``weight``: loading the weight computes
    both and keeps the scale until its own read (the weight must load first, as state order has it)."""
    from ..model.fp8_linear import FP8, quantize

    scale: list[torch.Tensor] = []

    def load_weight() -> torch.Tensor:
        w, s = quantize(weight.load())
        scale.append(s.reshape(scale_shape))
        return w

    return LazyTensor(weight.shape, FP8, load_weight), LazyTensor(tuple(scale_shape), torch.float32, lambda: scale.pop())


def as_lazy(value: torch.Tensor | LazyTensor) -> LazyTensor:
    """Wrap an in-memory tensor so eager and streamed states load through one path."""
    if isinstance(value, LazyTensor):
        return value
    return LazyTensor(tuple(value.shape), value.dtype, lambda: value)


@dataclass(frozen=True)
class Source:
    """Where a loaded component's weights can be read again: its lazy state and the dtype it was loaded in.
    Loaders leave it on the module as ``weights_source``; the low-RAM offload frees weights and re-reads them."""

    state: Mapping[str, LazyTensor]
    dtype: torch.dtype | None
