"""Where the sampler writes: numbered MP4s and resumable run directories under the output folder.

Inside ComfyUI the output folder is ComfyUI's (``--output-directory``); standalone it is ``$LTX2CHAIN_OUTPUT`` or
``./output``. Files are named like ComfyUI's own saves: ``<prefix>_00001_.mp4``, the counter one past the
highest already there; a prefix may hold subfolders (``video/chain``). A prefix's chunks are kept in
``ltx2chain_runs/<prefix>/``, so queueing the same chain again resumes from the chunks already rendered.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from . import host

OUTPUT_ENV_VAR = "LTX2CHAIN_OUTPUT"
RUNS_FOLDER = "ltx2chain_runs"


def output_root() -> Path:
    if host.IN_COMFYUI:
        return host.output_directory()
    return Path(os.environ.get(OUTPUT_ENV_VAR, "output"))


@dataclass(frozen=True)
class VideoTarget:
    path: Path
    """The MP4 to write."""
    subfolder: str
    """Its folder relative to the output folder ('' at the top), as ComfyUI's /view expects it."""
    run_dir: Path
    """Where this prefix's chunks are kept for a resume."""


def _prefix_parts(prefix: str) -> tuple[str, ...]:
    parts = tuple(p for p in Path(prefix.strip()).parts if p not in ("", "."))
    if not parts or Path(prefix).is_absolute() or ".." in parts:
        raise ValueError(f"filename_prefix: {prefix!r} must be a name (optionally with subfolders) inside the output folder")
    return parts


def video_target(prefix: str) -> VideoTarget:
    """The next free ``<prefix>_NNNNN_.mp4`` and the prefix's run directory."""
    parts = _prefix_parts(prefix)
    root = output_root()
    folder, base = root.joinpath(*parts[:-1]), parts[-1]
    pattern = re.compile(re.escape(base) + r"_(\d{5,})_\.mp4$")
    taken = [int(m.group(1)) for f in (folder.iterdir() if folder.is_dir() else ()) if (m := pattern.match(f.name))]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{base}_{max(taken, default=0) + 1:05d}_.mp4"
    return VideoTarget(path, "/".join(parts[:-1]), root.joinpath(RUNS_FOLDER, *parts))
