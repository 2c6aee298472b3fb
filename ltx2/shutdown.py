"""An orderly stop on SIGINT (Ctrl-C) and SIGTERM.

The first signal asks the chain to cancel (it stops at its next denoise step or chunk boundary, then cleans
up: the encoder is joined before the file is closed, chunks already saved stay for a resume). A second signal
raises KeyboardInterrupt at once, for a run stuck outside those checks; the cleanup still joins the encoder
first, so it cannot crash. The exit status follows the shell's convention: 128 + the first signal's number
(130 for SIGINT, 143 for SIGTERM).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class SignalStop:
    """What :func:`stop_on_signals` yields: which signal, if any, asked the run to stop."""

    def __init__(self, cancel: Callable[[], None], notify: Callable[[str], None] | None):
        self._cancel = cancel
        self._notify = notify
        self.signum: int | None = None
        self.leaving = False

    def leave(self) -> None:
        """The process exits after the block: further signals are ignored from then on, so a late second Ctrl-C
        cannot interrupt the exit (e.g. in an atexit callback) with a traceback."""
        self.leaving = True

    @property
    def exit_code(self) -> int:
        """128 + the first signal's number; 130 (as for Ctrl-C) when no signal came (a plain KeyboardInterrupt)."""
        return 128 + (self.signum or signal.SIGINT)

    def handle(self, signum: int, frame=None) -> None:
        if self.signum is not None:
            if _deferred.depth:  # inside a muxer's Python callbacks: raised when the block ends
                _deferred.pending = True
                return
            raise KeyboardInterrupt
        self.signum = signum
        self._cancel()
        if self._notify is not None:
            name = "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name
            self._notify(f"{name}: stopping after the current step (again to stop at once)")


class _Deferred:
    depth = 0
    pending = False


_deferred = _Deferred()  # the process's signals go to its main thread: one state


@contextmanager
def interrupts_deferred() -> Iterator[None]:
    """On the main thread, a second signal's KeyboardInterrupt waits until the block ends: for C code that calls
    back into Python (PyAV writing to a Python file object), where an exception raised mid-call aborts the
    process. Elsewhere the block runs as it is."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _deferred.depth += 1
    try:
        yield
    finally:
        _deferred.depth -= 1
        if not _deferred.depth and _deferred.pending:
            _deferred.pending = False
            raise KeyboardInterrupt


@contextmanager
def stop_on_signals(cancel: Callable[[], None], notify: Callable[[str], None] | None = None) -> Iterator[SignalStop]:
    """Within the block, SIGINT and SIGTERM call ``cancel`` (e.g. ``StandaloneHost.cancel``) once, then raise
    KeyboardInterrupt. ``notify`` gets a one-line message on the first signal. The previous handlers come back
    on exit, unless the caller said it is leaving (:meth:`SignalStop.leave`). Off the main thread (where Python cannot install handlers) it installs nothing."""
    stop = SignalStop(cancel, notify)
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    previous = {s: signal.getsignal(s) for s in SIGNALS}
    for s in SIGNALS:
        signal.signal(s, stop.handle)
    try:
        yield stop
    finally:
        for s, handler in previous.items():
            signal.signal(s, signal.SIG_IGN if stop.leaving else handler)
