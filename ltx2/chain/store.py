"""The run directory: each finished chunk's latents and handoff, saved so a re-run can resume.

Every chunk file records the chunk's key, a hash of everything that decides its content: the renderer's
fingerprint, the chunk's place in the plan, its resolved parameters and the key of the chunk before it.
A re-run reuses a chunk only when its key matches, so editing chunk 5's prompt re-renders chunks 5 onward
and keeps 0..4. Files are written to a temporary name and renamed, so a crash never leaves half a chunk; the
temporary files a killed run left behind are removed when the next run opens the directory (those no live run
holds).
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, safe_open, save_file

from ..media.files import FileLock, remove_leftovers

FORMAT = "ltx2-chain-chunk/1"


@dataclass
class ChunkRecord:
    """What a rendered chunk leaves behind: its latents (decoded for output) and the tail for the next."""

    latents: dict[str, torch.Tensor]
    handoff: dict[str, torch.Tensor] | None


def chunk_key(previous: str, fields: dict) -> str:
    """A chunk's key: sha256 over the previous chunk's key and this chunk's deciding fields."""
    blob = json.dumps({"format": FORMAT, "previous": previous, **fields}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


class RunStore:
    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        if self.root.is_dir():
            remove_leftovers(self.root, "chunk_*.safetensors.tmp", "run.json.tmp")

    def path(self, index: int) -> Path:
        return self.root / f"chunk_{index:05d}.safetensors"

    def load(self, index: int, key: str) -> ChunkRecord | None:
        """Chunk ``index`` if it was saved with ``key``; None if absent, stale or unreadable."""
        path = self.path(index)
        if not path.exists():
            return None
        try:
            with safe_open(str(path), framework="pt") as f:
                meta = f.metadata() or {}
            if meta.get("format") != FORMAT or meta.get("key") != key:
                return None
            tensors = load_file(str(path))
        except (SafetensorError, OSError, ValueError):
            return None
        latents = {k.removeprefix("latents/"): v for k, v in tensors.items() if k.startswith("latents/")}
        handoff = {k.removeprefix("handoff/"): v for k, v in tensors.items() if k.startswith("handoff/")}
        return ChunkRecord(latents, handoff if meta.get("has_handoff") == "1" else None)

    def save(self, index: int, key: str, record: ChunkRecord) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        tensors = {f"latents/{k}": _detached(v) for k, v in record.latents.items()}
        tensors.update({f"handoff/{k}": _detached(v) for k, v in (record.handoff or {}).items()})
        meta = {"format": FORMAT, "key": key, "chunk": str(index), "has_handoff": "1" if record.handoff is not None else "0"}
        path = self.path(index)
        tmp = path.with_name(path.name + ".tmp")
        lock = FileLock(tmp)  # in use: another run opening this directory leaves it alone
        try:
            save_file(tensors, str(tmp), metadata=meta)
            os.replace(tmp, path)
        finally:
            lock.release()
            tmp.unlink(missing_ok=True)

    def write_manifest(self, manifest: dict) -> None:
        """A human-readable record of the run's inputs (not used for resuming: chunk keys are)."""
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = self.root / "run.json.tmp"
        lock = FileLock(tmp)
        try:
            tmp.write_text(json.dumps(manifest, indent=2, default=str))
            os.replace(tmp, self.root / "run.json")
        finally:
            lock.release()
            tmp.unlink(missing_ok=True)


def _detached(t: torch.Tensor) -> torch.Tensor:
    # safetensors wants contiguous CPU tensors that share no storage with each other
    return t.detach().to("cpu").contiguous().clone()
