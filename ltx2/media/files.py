"""Temporary files on disk: a lock that marks one as in use, and the sweep that removes those whose writer died
(SIGKILL, power loss), for the MP4 writer and the run directory's chunk files; and the remux that turns the
fragmented MP4 written while rendering into a regular MP4 with its index up front (``faststart``) for every
player.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import av

try:
    import fcntl
except ImportError:  # Windows: a file another process has open cannot be deleted, which is the lock we need
    fcntl = None

log = logging.getLogger(__name__)


class FileLock:
    """An advisory lock held on ``path`` (created if missing) for as long as this object is open; released by
    the OS if the process dies, so a temporary file nobody holds is a leftover."""

    def __init__(self, path: Path):
        self._fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        if fcntl is not None:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(self._fd)
                raise

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the lock
            self._fd = None


def _in_use(path: Path) -> bool:
    if fcntl is None:
        return False  # unlinking below fails on Windows while the writer still has it open
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return True  # vanished or unreadable: not ours to touch
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return False
    except OSError:
        return True
    finally:
        os.close(fd)


def remove_leftovers(folder: Path, *patterns: str) -> list[Path]:
    """Delete the files in ``folder`` matching any of ``patterns`` that no live writer holds; returns them."""
    removed = []
    for path in (p for pattern in patterns for p in folder.glob(pattern)):
        if path.is_file() and not _in_use(path):
            try:
                path.unlink()
            except OSError:
                continue
            log.info("removed %s, left behind by an interrupted run", path)
            removed.append(path)
    return removed


def flatten(src: Path, dst: Path) -> None:
    """Copy the packets of the fragmented MP4 ``src`` into a regular ``faststart`` MP4 ``dst`` (no re-encoding;
    timestamps and edit lists carry over, so both files decode to the same frames and samples)."""
    with av.open(str(src)) as inp, av.open(str(dst), mode="w", format="mp4", options={"movflags": "+faststart"}) as out:
        streams = {s.index: out.add_stream_from_template(s) for s in inp.streams if s.type in ("video", "audio")}
        for packet in inp.demux():
            if packet.dts is None or packet.stream.index not in streams:
                continue  # the demuxer's end-of-stream markers
            packet.stream = streams[packet.stream.index]
            out.mux(packet)
