"""Encoding in the background while the next chunk renders.

:class:`BackgroundSink` wraps any sink: ``prepare`` makes the inner sink's private copy of a piece on the
render thread (never the renderer's own buffers), ``write`` hands it to one worker thread through a bounded
queue and returns; the worker writes pieces in order. At most ``max_pending`` pieces wait in the queue, so
memory stays bounded by a chunk or two however long the video. An encoder failure is raised, as :class:`EncoderError`, on the render thread at its next
``check`` (every denoise step), ``write`` or ``commit``; the worker is always joined, with a timeout.
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
            if self._error is not None:
                continue  # failed: keep draining so writers never block
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
        self._queue.put(_DONE)
        self._thread.join(self.join_timeout)
        if self._thread.is_alive():
            raise EncoderError(f"the video encoder did not finish within {self.join_timeout:g} s")
        self._thread = None

    def commit(self) -> object:
        try:
            self._join()
            self.check()
        except BaseException:
            self.inner.abort()
            raise
        return self.inner.commit()

    def abort(self) -> None:
        try:
            self._join()  # let the pieces already handed over finish: a kept partial file then has them
        finally:
            self.inner.abort()
