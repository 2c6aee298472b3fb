"""Typed events a chain run emits, in order:

ChainStarted, then per chunk ChunkStarted, DenoiseStep* (none when the chunk is resumed from the run
directory), Stitching, ChunkFinished; then ChainFinished, or ChainFailed at any point (cancel included).

Every event has a stable ``to_dict()`` payload with an ``event`` name; the ComfyUI host forwards these as
websocket messages and the CLI prints them, so add keys rather than renaming them.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, fields


@dataclass(frozen=True)
class ChainEvent:
    name = "event"

    def to_dict(self) -> dict:
        """The JSON payload: every field but those marked ``payload=False`` (a picture for a host to show)."""
        data = {f.name: getattr(self, f.name) for f in fields(self) if f.metadata.get("payload", True)}
        return {"event": self.name, **copy.deepcopy(data)}


@dataclass(frozen=True)
class ChainStarted(ChainEvent):
    name = "chain_start"
    chunks: int
    total_frames: int
    frame_rate: float
    """The video's frames per second (``render_speed`` in progress payloads is the rendering speed)."""
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ChunkStarted(ChainEvent):
    name = "chunk_start"
    chunk: int
    chunks: int
    resumed: bool
    """True when the chunk was found finished in the run directory and is not rendered again."""
    prompt: str


@dataclass(frozen=True)
class DenoiseStep(ChainEvent):
    name = "denoise_step"
    chunk: int
    chunks: int
    step: int
    """Steps finished so far in this chunk (1..steps)."""
    steps: int


@dataclass(frozen=True)
class Stitching(ChainEvent):
    name = "stitching"
    chunk: int
    keep: tuple[int, int]


@dataclass(frozen=True)
class ChunkFinished(ChainEvent):
    name = "chunk_done"
    chunk: int
    chunks: int
    resumed: bool
    frames_done: int
    """Output frames delivered so far, this chunk included."""
    total_frames: int
    seconds: float
    """Wall time this chunk took (render or load, decode, stitch)."""
    last_frame: object = field(default=None, repr=False, compare=False, metadata={"payload": False})
    """The chunk's last delivered frame [H, W, 3] (float 0..1), for a progress panel; not in the payload."""


@dataclass(frozen=True)
class ChainFinished(ChainEvent):
    name = "done"
    chunks: int
    total_frames: int
    rendered_chunks: int
    """Chunks rendered in this run (the rest were resumed)."""
    seconds: float


@dataclass(frozen=True)
class ChainFailed(ChainEvent):
    name = "error"
    chunk: int | None
    cancelled: bool
    message: str
