"""Progress payloads: chain events enriched with speed and ETA, for progress panels, API clients and the CLI.

``ProgressTracker`` watches the events of one run and turns each into the stable payload the ComfyUI
websocket event and the CLI carry: the event's own fields plus ``render_speed`` (output frames per wall second so
far; the video's own rate is ``frame_rate`` on ``chain_start``)
and ``eta_seconds`` (remaining time from the measured seconds per denoise step, per chunk start and per chunk
finish), both None until there is something to measure. A chunk's first step is timed from the chunk's start,
so it also holds the chunk's set-up (its prompt, its conditioning): the seconds per step come from the steps
after it, and what the first one took beyond a step counts once per chunk.

``ProgressLine`` turns those payloads into the CLI's text on stderr.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from .events import ChainEvent, ChainStarted, ChunkFinished, ChunkStarted, DenoiseStep


def _mean(values: list[float]) -> float:
    return sum(values) / len(values) if values else 0.0


class ProgressTracker:
    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self.started = None
        self.chunks = 0
        self.chunk = 0
        self.steps = 0
        self.step = 0
        self.frames_done = 0
        self.first_seconds: list[float] = []  # from a chunk's start to its first step
        self.step_seconds: list[float] = []  # from one step of a chunk to the next
        self.finish_seconds: list[float] = []  # from a chunk's last step (or its start) to its end
        self._mark = None

    def _eta(self) -> float | None:
        if not (self.first_seconds or self.step_seconds or self.finish_seconds):
            return None
        first = _mean(self.first_seconds)
        per_step = _mean(self.step_seconds) if self.step_seconds else first
        set_up = max(first - per_step, 0.0)
        later = self.chunks - self.chunk - 1
        steps_left = max(self.steps - self.step, 0) + later * self.steps
        chunks_left = later + (1 if self.step <= self.steps else 0)
        set_ups_left = later + (1 if self.step == 0 else 0)
        return per_step * steps_left + _mean(self.finish_seconds) * chunks_left + set_up * set_ups_left

    def __call__(self, event: ChainEvent) -> dict:
        now = self.clock()
        if isinstance(event, ChainStarted):
            self.started, self.chunks = now, event.chunks
        elif isinstance(event, ChunkStarted):
            self.chunk, self.step, self._mark = event.chunk, 0, now
        elif isinstance(event, DenoiseStep):
            (self.step_seconds if self.step else self.first_seconds).append(now - self._mark)
            self.steps, self.step, self._mark = event.steps, event.step, now
        elif isinstance(event, ChunkFinished):
            self.frames_done = event.frames_done
            if not event.resumed:
                self.finish_seconds.append(now - self._mark)
            self.step = self.steps + 1  # this chunk is over
        elapsed = now - self.started if self.started is not None else 0.0
        payload = event.to_dict()
        payload["render_speed"] = self.frames_done / elapsed if self.frames_done and elapsed > 0 else None
        payload["eta_seconds"] = self._eta()
        return payload


def duration(seconds: float) -> str:
    """``42 s``, ``3m05s``, ``2h07m``."""
    s = round(seconds)
    if s < 60:
        return f"{s} s"
    return f"{s // 60}m{s % 60:02d}s" if s < 3600 else f"{s // 3600}h{s % 3600 // 60:02d}m"


class ProgressLine:
    """The CLI's progress text from :class:`ProgressTracker` payloads: ``__call__`` returns what to write to stderr,
    or None. ``live`` (stderr is a terminal): the current step on one line rewritten in place, and a lasting line
    per finished chunk. Otherwise (a log): the lasting lines, and a step line at most every ``interval`` seconds."""

    def __init__(self, live: bool, interval: float = 5.0, clock: Callable[[], float] = time.monotonic):
        self.live = live
        self.interval = interval
        self.clock = clock
        self._written = None  # when the last step line was written (a log)
        self._open = False  # a live line is on the terminal, without its newline

    def __call__(self, payload: dict) -> str | None:
        event = payload["event"]
        eta = f", ETA {duration(payload['eta_seconds'])}" if payload["eta_seconds"] is not None else ""
        of = f"chunk {payload.get('chunk', 0) + 1}/{payload.get('chunks', 0)}"
        if event == "denoise_step":
            text = f"{of}, step {payload['step']}/{payload['steps']}{eta}"
            if self.live:
                self._open = True
                return f"\r\x1b[K{text}"
            now = self.clock()
            if self._written is not None and now - self._written < self.interval:
                return None
            self._written = now
            return text + "\n"
        if event == "chunk_done":
            text = f"{of} done{' (resumed)' if payload['resumed'] else ''}{eta}"
        elif event == "done":
            text = f"done in {payload['seconds']:.1f} s"
        elif event == "error" and self._open:
            text = ""  # end the live line: the error or the interrupt note follows on its own
        else:
            return None
        clear, self._open = ("\r\x1b[K" if self._open and text else ""), False
        return f"{clear}{text}\n"
