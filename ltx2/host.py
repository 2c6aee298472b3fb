"""Where the engine runs: device and dtype, cancellation, and where events go.

The engine talks to its host only through :class:`Host`. The standalone host here serves the CLI and the
tests; the ComfyUI pack supplies its own (model management, interrupt, progress bar, websocket events).
"""

from __future__ import annotations

import threading
from typing import Callable, Protocol

import torch

from .chain.events import ChainEvent


class ChainCancelled(Exception):
    """The run was cancelled; raised from the cancel check at a denoise step or chunk boundary."""


class Host(Protocol):
    device: torch.device
    dtype: torch.dtype

    def check_cancel(self) -> None:
        """Raise if the user asked to stop. Called at every denoise step and chunk boundary."""

    def emit(self, event: ChainEvent) -> None:
        """Deliver a chain event (progress, status) to whoever is listening."""


def default_device() -> torch.device:
    return torch.device("cuda") if torch.cuda.is_available() else torch.device("cpu")


def default_dtype(device: torch.device) -> torch.dtype:
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float32


class StandaloneHost:
    """A host with no ComfyUI: picks the device, holds a thread-safe cancel flag, fans events out."""

    def __init__(
        self,
        device: str | torch.device | None = None,
        dtype: torch.dtype | None = None,
        listeners: list[Callable[[ChainEvent], None]] | None = None,
    ):
        self.device = torch.device(device) if device is not None else default_device()
        self.dtype = dtype if dtype is not None else default_dtype(self.device)
        self.listeners = list(listeners or [])
        self._cancel = threading.Event()

    def cancel(self) -> None:
        """Ask the running chain to stop at its next check (safe from any thread)."""
        self._cancel.set()

    def check_cancel(self) -> None:
        if self._cancel.is_set():
            raise ChainCancelled("cancelled by the user")

    def emit(self, event: ChainEvent) -> None:
        for listener in self.listeners:
            listener(event)
