"""A cache for a run of forward calls over inputs that stay fixed (a sampler's chunk stage): what derives from
them is made once (RoPE tables, projected text contexts and their keys/values, mask levels)."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import TypeVar

import torch

T = TypeVar("T")


class ForwardCache:
    """What a run of forward calls over unchanged inputs can share: values derived from tensors that stay the
    same across the calls (positions, text contexts, masks), made by the first call that needs them.

    An entry is found by its key and the identity of the tensors it derives from (the cache holds them, so an
    identity is never reused while cached); another tensor in their place makes it again. Tensors changed in
    place are not noticed: give the cache only inputs that stay fixed while it lives (a sampler's chunk). At
    most ``size`` entries, the oldest dropped first."""

    def __init__(self, size: int = 32):
        self.size = size
        self._entries: dict[tuple, tuple[tuple[torch.Tensor, ...], object]] = {}

    def get(self, key: Hashable, make: Callable[[], T], *sources: torch.Tensor) -> T:
        full = (key, *map(id, sources))
        hit = self._entries.get(full)
        if hit is not None and all(a is b for a, b in zip(hit[0], sources)):
            return hit[1]
        value = make()
        self._entries.pop(full, None)
        self._entries[full] = (sources, value)
        if len(self._entries) > self.size:
            del self._entries[next(iter(self._entries))]
        return value
