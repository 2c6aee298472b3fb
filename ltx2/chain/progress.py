"""Progress payloads: chain events enriched with speed and ETA, for progress panels and API clients.

``ProgressTracker`` watches the events of one run and turns each into the stable payload the ComfyUI
websocket event and the CLI carry: the event's own fields plus ``fps`` (output frames per wall second so far)
and ``eta_seconds`` (remaining time from the measured seconds per denoise step and per chunk finish), both
None until there is something to measure.
"""

from __future__ import annotations

import time
from typing import Callable

from .events import ChainEvent, ChainStarted, ChunkFinished, ChunkStarted, DenoiseStep


class ProgressTracker:
    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self.started = None
        self.chunks = 0
        self.chunk = 0
        self.steps = 0
        self.step = 0
        self.frames_done = 0
        self.step_seconds: list[float] = []
        self.finish_seconds: list[float] = []  # from a chunk's last step (or its start) to its end
        self._mark = None

    def _eta(self) -> float | None:
        if not self.step_seconds and not self.finish_seconds:
            return None
        per_step = sum(self.step_seconds) / len(self.step_seconds) if self.step_seconds else 0.0
        per_finish = sum(self.finish_seconds) / len(self.finish_seconds) if self.finish_seconds else 0.0
        later = self.chunks - self.chunk - 1
        steps_left = max(self.steps - self.step, 0) + later * self.steps
        chunks_left = later + (1 if self.step <= self.steps else 0)
        return per_step * steps_left + per_finish * chunks_left

    def __call__(self, event: ChainEvent) -> dict:
        now = self.clock()
        if isinstance(event, ChainStarted):
            self.started, self.chunks = now, event.chunks
        elif isinstance(event, ChunkStarted):
            self.chunk, self.step, self._mark = event.chunk, 0, now
        elif isinstance(event, DenoiseStep):
            self.steps, self.step = event.steps, event.step
            self.step_seconds.append(now - self._mark)
            self._mark = now
        elif isinstance(event, ChunkFinished):
            self.frames_done = event.frames_done
            if not event.resumed:
                self.finish_seconds.append(now - self._mark)
            self.step = self.steps + 1  # this chunk is over
        elapsed = now - self.started if self.started is not None else 0.0
        payload = event.to_dict()
        payload["fps"] = self.frames_done / elapsed if self.frames_done and elapsed > 0 else None
        payload["eta_seconds"] = self._eta()
        return payload
