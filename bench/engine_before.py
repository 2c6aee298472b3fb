"""The engine as an earlier commit had it, imported beside today's, for before/after benches in one process.

    before = engine_at("7454fd7")   # that commit's ``ltx2`` package, importable as ``ltx2_at_7454fd7``
    before.loading.transformer.load_transformer(...)

The package is read from this checkout's git history (``git archive``) into a temporary folder under another
name; its modules import each other relatively, so the two engines share nothing but torch. A checkout without
that commit (a shallow clone) gets an error saying how to fetch it.
"""

from __future__ import annotations

import atexit
import importlib
import io
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
# the last commit before the speed work of issue 16 (ForwardCache, batched guidance passes, text keys/values once,
# STG prefix shared, compile): "today's" engine in that terms
BEFORE_SPEED_WORK = "7454fd7"


def _git(*args: str) -> bytes:
    return subprocess.run(["git", "-C", str(ROOT), *args], check=True, capture_output=True).stdout


def engine_at(rev: str) -> ModuleType:
    """``ltx2`` as commit ``rev`` had it, imported as ``ltx2_at_<rev>``. Raises LookupError naming the fix when this
    checkout lacks the commit."""
    try:
        commit = _git("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}").decode().strip()
    except (OSError, subprocess.CalledProcessError):
        raise LookupError(
            f"commit {rev} is not in this checkout's history (a shallow clone? run: git fetch --unshallow), "
            "or git is missing; the bench compares today's engine with the one of that commit"
        ) from None
    name = f"ltx2_at_{rev}"
    if name in sys.modules:
        return sys.modules[name]
    folder = Path(tempfile.mkdtemp(prefix="ltx2-before-"))
    atexit.register(shutil.rmtree, folder, True)
    with tarfile.open(fileobj=io.BytesIO(_git("archive", commit, "ltx2"))) as archive:
        archive.extractall(folder, filter="data")
    (folder / "ltx2").rename(folder / name)
    sys.path.insert(0, str(folder))
    return importlib.import_module(name)
