"""What a model file IS, for the resume key: the SHA-256 of its bytes, computed once and remembered.

A file replaced under the same name (a re-download, another LoRA saved over the old one) must not let a resumed
chain reuse chunks rendered with the old weights, so the key holds digests, not names. Hashing a 40 GB file takes
about half a minute, so each digest is cached by (path, size, modification time) in ``digests.json`` under
``$LTX2CHAIN_CACHE`` (default ``~/.cache/ltx2-chain``); a changed size or time means the file changed: it is
hashed again.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

BLOCK = 8 * 2**20
CACHE_ENV = "LTX2CHAIN_CACHE"


def _cache_file() -> Path:
    root = os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "ltx2-chain"
    return Path(root) / "digests.json"


def _load(cache: Path) -> dict:
    try:
        return json.loads(cache.read_text())
    except (OSError, ValueError):
        return {}  # none yet, or unreadable: the digests are computed again


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(BLOCK):
            h.update(block)
    return h.hexdigest()


def file_digest(path: str | os.PathLike) -> str:
    """The SHA-256 of ``path``'s bytes (cached by path, size and modification time)."""
    path = Path(path).resolve()
    stat = path.stat()
    cache = _cache_file()
    known = _load(cache)
    stamp = f"{stat.st_size}:{stat.st_mtime_ns}"
    entry = known.get(str(path))
    if entry and entry.get("stamp") == stamp:
        return entry["sha256"]
    digest = _sha256(path)
    known[str(path)] = {"stamp": stamp, "sha256": digest}
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        temporary = cache.with_name(f".{cache.name}.{os.getpid()}")
        temporary.write_text(json.dumps(known, indent=0, sort_keys=True))
        temporary.replace(cache)
    except OSError:
        pass  # a read-only home: the digest is still right, only not remembered
    return digest


def digests(paths) -> dict[str, str]:
    """File name -> digest for the given files, and for a folder (an HF model folder) each file in it."""
    out = {}
    for path in map(Path, paths):
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            out[file.relative_to(path.parent).as_posix()] = file_digest(file)
    return out
