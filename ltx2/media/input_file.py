"""A media file given as an input (a soundtrack, a source video) opened with PyAV: a missing file, or one PyAV
cannot read, is one :class:`~ltx2.errors.InputError` naming the input and what to give instead."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

import av

from ..errors import InputError


@contextmanager
def open_input(path: str | os.PathLike, name: str, kind: str, formats: tuple[str, ...]) -> Iterator[av.container.InputContainer]:
    """PyAV's container of ``path``, the ``kind`` file ("sound", "video") of input ``name``; ``formats`` name the usual
    ones (the first decides "a" or "an"). PyAV errors while the caller reads it become the same InputError."""
    shown = os.fspath(path)
    if not os.path.isfile(path):
        raise InputError([(name, f"{shown}: no such file; give the path of a {kind} file ({', '.join(formats)}...)")])
    article = "an" if formats[0][0] in "AEFHILMNORSX" else "a"  # as the letter is said: an MP4, a WAV
    try:
        with av.open(shown) as container:
            yield container
    except av.error.FFmpegError as e:
        give = f"{article} {', '.join(formats[:-1])} or {formats[-1]} file"
        raise InputError([(name, f"{shown} is not a {kind} file PyAV can read ({e}); give {give}")]) from None
