"""Checks of what a user typed that need no model: a device that exists here, files that can be read, places
that can be written. Each problem is a (flag, message) pair for one :class:`~ltx2.errors.InputError`."""

from __future__ import annotations

import os
from pathlib import Path

from .errors import InputError


def device_from_flag(spec: str | None):
    """``--device`` as a torch device that exists here (default: cuda when available)."""
    import torch

    from .host import default_device

    if spec is None:
        return default_device()
    try:
        device = torch.device(spec)
    except RuntimeError:
        raise InputError([("--device", f"{spec!r} is not a device; use cpu, cuda, cuda:N or mps")]) from None
    backend = getattr(torch, device.type, None)
    if device.type != "cpu":
        if not (hasattr(backend, "is_available") and backend.is_available()):
            raise InputError([("--device", f"{spec}: torch {torch.__version__} has no {device.type} device on this machine; use --device cpu")])
        if device.index is not None and device.index >= backend.device_count():
            raise InputError([("--device", f"{spec}: there is no {device.type} device {device.index} ({backend.device_count()} here)")])
    return device


def file_problems(entries) -> list[tuple[str, str]]:
    """Why each (flag, path, kind) cannot be read: missing, the wrong kind, unreadable."""
    problems = []
    for flag, path, kind in entries:
        if path is None:
            continue
        if not path.exists():
            problems.append((flag, f"{path} does not exist"))
        elif not (path.is_file() or (kind == "any" and path.is_dir())):
            problems.append((flag, f"{path} is {'a folder' if path.is_dir() else 'not a regular file'}; give the file"))
        elif not os.access(path, os.R_OK):
            problems.append((flag, f"{path} cannot be read (permission denied)"))
    return problems


def unwritable(folder: Path) -> str | None:
    """Why files cannot be made in ``folder`` (created as needed), or None."""
    here = Path(os.path.abspath(folder))
    while not here.exists():
        here = here.parent
    if not here.is_dir():
        return f"{here} is not a folder"
    if not os.access(here, os.W_OK | os.X_OK):
        return f"cannot write in {here} (permission denied)"
    return None


def output_problems(out: Path, run_dir: Path | None) -> list[tuple[str, str]]:
    if out.is_dir():
        return [("--out", f"{out} is a folder; give the MP4 file to write, e.g. {out / 'video.mp4'}")]
    if out.exists() and not out.is_file():
        return [("--out", f"{out} is not a regular file (a device or a pipe); give the MP4 file to write")]
    wrong = [("--out", unwritable(out.parent)), ("--run-dir", unwritable(run_dir) if run_dir is not None else None)]
    return [(flag, why) for flag, why in wrong if why]


def gather(problems: list, make):
    """``make()``, or None with its input problems added to ``problems``."""
    try:
        return make()
    except InputError as e:
        problems += e.problems
        return None
