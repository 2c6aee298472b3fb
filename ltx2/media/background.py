"""Encoding in the background while the next chunk renders.

:class:`BackgroundSink` wraps any sink: ``prepare`` makes the inner sink's private copy of a piece on the
render thread (never the renderer's own buffers), ``write`` hands it to one worker thread through a bounded
queue and returns; the worker writes pieces in order. At most ``max_pending`` pieces wait in the queue, so
memory stays bounded by a chunk or two however long the video. An encoder failure is raised, as :class:`EncoderError`, on the render thread at its next
``check`` (every denoise step), ``write`` or ``commit``.

The worker is always joined, with a timeout, before the inner sink is committed or aborted: closing a file
while the worker still writes to it would crash the process. A KeyboardInterrupt (a second Ctrl-C) during the
join does not cut it short: the worker drops the pieces still queued, the join goes on, and the interrupt is
raised once the worker has stopped.
"""

from __future__ import annotations

import queue
import threading
import time
from fractions import Fraction

import torch

from .sink import MediaSink

_DONE = object()


class EncoderError(RuntimeError):
    """The background encoder failed; the chain stops and nothing is saved under the final name."""


class BackgroundSink:
    def __init__(self, inner: MediaSink, max_pending: int = 1, join_timeout: float = 600.0):
        self.inner = inner
        self.join_timeout = join_timeout
        self._queue: queue.Queue = queue.Queue(maxsize=max_pending)
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._drop = threading.Event()  # set: the worker skips the pieces still queued
        self.encode_seconds = 0.0
        """Time the worker spent writing pieces."""
        self.blocked_seconds = 0.0
        """Time ``write`` waited for room in the queue (the encoder falling behind the renderer)."""

    def open(self, fps: Fraction, total_frames: int) -> None:
        self.inner.open(fps, total_frames)
        self._thread = threading.Thread(target=self._work, name="ltx2-encoder", daemon=True)
        self._thread.start()

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is _DONE:
                return
            if self._error is not None or self._drop.is_set():
                continue  # failed or stopping: keep draining so writers never block
            t0 = time.perf_counter()
            try:
                self.inner.write(*item)  # (piece, sample_rate)
            except BaseException as error:
                self._error = error
            self.encode_seconds += time.perf_counter() - t0

    def check(self) -> None:
        if self._error is not None:
            raise EncoderError(f"the video encoder failed: {self._error}") from self._error

    def prepare(self, frames: torch.Tensor, audio: torch.Tensor | None) -> tuple:
        return self.inner.prepare(frames, audio)

    def write(self, piece: tuple, sample_rate: int | None) -> None:
        self.check()
        t0 = time.perf_counter()
        while True:
            try:
                self._queue.put((piece, sample_rate), timeout=0.1)
                break
            except queue.Full:
                self.check()
        self.blocked_seconds += time.perf_counter() - t0

    def _join(self) -> None:
        if self._thread is None:
            return
        deadline = time.monotonic() + self.join_timeout
        interrupt: KeyboardInterrupt | None = None
        done_sent = False
        while self._thread.is_alive() and time.monotonic() < deadline:
            try:
                if not done_sent:
                    self._queue.put(_DONE, timeout=0.1)
                    done_sent = True
                self._thread.join(0.1)
            except queue.Full:
                continue
            except KeyboardInterrupt as error:
                interrupt = error
                self._drop.set()
        if self._thread.is_alive():
            raise EncoderError(f"the video encoder did not finish within {self.join_timeout:g} s")
        self._thread = None
        if interrupt is not None:
            raise interrupt

    def _join_or_abort(self) -> None:
        """Join the worker; on failure abort the inner sink, unless the worker is still writing to it."""
        try:
            self._join()
        except BaseException:
            if self._thread is None:  # stopped: closing is safe (else the next run removes the temporary file)
                self.inner.abort()
            raise

    def commit(self) -> object:
        self._join_or_abort()
        try:
            self.check()
        except BaseException:
            self.inner.abort()
            raise
        return self.inner.commit()

    def abort(self) -> None:
        self._join_or_abort()  # let the pieces already handed over finish: a kept partial file then has them
        self.inner.abort()
