"""The attention kernel of a render: the CLI's ``--attention`` and the ComfyUI loaders' ``attention`` input.

The kernel is process-wide (:func:`ltx2.model.attention.set_attention_backend`); the CLI sets it once, the ComfyUI
pack checks it when the model loads and switches to it for each run of that model. It is part of every chunk's
resume key, as compiled DiT blocks are (:meth:`ltx2.pipeline.renderer.LTXChunkRenderer.fingerprint`).
"""

from __future__ import annotations

import torch

from ..errors import InputError
from ..model.attention import attention_kernel, set_attention_backend


def check_attention(name: str, device: torch.device | None) -> None:
    """Raise :class:`~ltx2.errors.InputError` (field ``attention``) for an unknown backend, one whose package is not
    installed, or an optional one on a ``device`` other than CUDA (the only kind they run on); change nothing."""
    if name != "sdpa" and device is not None and device.type != "cuda":
        raise InputError([("attention", f"{name} runs on CUDA only; use sdpa (the default) on {device.type}")])
    attention_kernel(name)


def use_attention(name: str, device: torch.device | None) -> None:
    """Run every unmasked attention on backend ``name`` from now on, once :func:`check_attention` passes."""
    check_attention(name, device)
    set_attention_backend(name)
