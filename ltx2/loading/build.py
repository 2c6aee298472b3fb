"""Build a component on the ``meta`` device and load its weights straight to the target device and dtype.

Strict: every key of the module must come from the file and every key of the file (after the caller drops
the known-unused ones) must land in the module, or a :class:`CheckpointMismatch` names them.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn


class CheckpointMismatch(ValueError):
    pass


def _describe(keys: list[str], limit: int = 8) -> str:
    shown = ", ".join(keys[:limit])
    return shown + (f" ... ({len(keys) - limit} more)" if len(keys) > limit else "")


def build_on_meta(builder: Callable[[], nn.Module]) -> nn.Module:
    with torch.device("meta"):
        return builder()


def load_into(module: nn.Module, state: dict[str, torch.Tensor], *, device="cpu", dtype: torch.dtype | None = None, what: str = "component") -> nn.Module:
    """Load ``state`` into a meta-built ``module`` (assigning the tensors, no copy in RAM), strictly."""
    expected = module.state_dict()
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
    cast = {k: (v.to(device=device, dtype=dtype) if dtype is not None and v.is_floating_point() else v.to(device)) for k, v in state.items()}
    module.load_state_dict(cast, strict=True, assign=True)
    leftover = [n for n, t in [*module.named_parameters(), *module.named_buffers()] if t.is_meta]
    if leftover:
        raise CheckpointMismatch(f"{what}: tensors not loaded from the file (still on meta): {_describe(leftover)}")
    return module.eval()
