"""Golden cases from the reference implementation (tests/fixtures/reference, see its README; or the reference set
named by ``LTX2_REFERENCE_DIR``, which must then hold a readable ``index.json``).

``Case`` gives a case's args, inputs and expected tensors; ``case.check(name, out)`` compares one output
against the reference with the tolerance stored for it, and the parity test fails a case whose runner
leaves an expected tensor unchecked.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import torch
from safetensors import safe_open

BUNDLED = Path(__file__).resolve().parent / "fixtures" / "reference"
ENVIRONMENT = "LTX2_REFERENCE_DIR"


class ReferenceSetError(RuntimeError):
    """The reference set named by ``LTX2_REFERENCE_DIR`` is missing or malformed (never a silent fallback)."""


def locate(environ=os.environ) -> tuple[Path, dict]:
    """(reference folder, its parsed index.json): ``LTX2_REFERENCE_DIR`` when set, else the bundled set."""
    given = environ.get(ENVIRONMENT)
    folder = Path(given).expanduser() if given else BUNDLED
    where = f"{ENVIRONMENT}={given}" if given else str(folder)
    index = folder / "index.json"
    if not folder.is_dir():
        raise ReferenceSetError(f"{where}: no such folder; point {ENVIRONMENT} at a reference set (a folder with index.json) or unset it")
    try:
        data = json.loads(index.read_text())
    except FileNotFoundError:
        raise ReferenceSetError(f"{where}: no index.json in {folder}; point {ENVIRONMENT} at a reference set or unset it") from None
    except (OSError, ValueError) as e:
        raise ReferenceSetError(f"{where}: {index} cannot be read as JSON ({e})") from None
    if not (isinstance(data, dict) and isinstance(data.get("cases"), list) and isinstance(data.get("checkpoints"), dict)):
        raise ReferenceSetError(f"{where}: {index} is not a reference index (a JSON object with 'cases' and 'checkpoints')")
    missing = [entry.get("file") for entry in data["cases"] if not (isinstance(entry, dict) and (folder / str(entry.get("file"))).is_file())]
    if missing:
        raise ReferenceSetError(f"{where}: {len(missing)} case file(s) listed in {index} are missing, e.g. {missing[0]}")
    return folder, data


REFERENCE, INDEX = locate()


def checkpoint_entry(name: str) -> dict:
    return INDEX["checkpoints"][name]


def path(relative: str) -> Path:
    return REFERENCE / relative


def rel_l2(out: torch.Tensor, ref: torch.Tensor) -> float:
    out, ref = out.double(), ref.double()
    return float(torch.linalg.vector_norm(out - ref) / torch.linalg.vector_norm(ref).clamp_min(1e-300))


class Case:
    def __init__(self, entry: dict):
        self.id = entry["case"]
        self.kind = entry["kind"]
        self.arch = entry["arch"]
        self.meta = json.loads((REFERENCE / entry["sidecar"]).read_text())
        self.args = self.meta.get("args", {})
        with safe_open(str(REFERENCE / entry["file"]), framework="pt") as f:
            tensors = {k: f.get_tensor(k) for k in f.keys()}
        self.inputs = {k.removeprefix("inputs."): v for k, v in tensors.items() if k.startswith("inputs.")}
        self.expected = {k.removeprefix("expected."): v for k, v in tensors.items() if k.startswith("expected.")}
        self.checked: set[str] = set()

    @property
    def checkpoint(self) -> Path:
        """The file the case's reference run loaded its model from (for split cases, the one of the kind's component)."""
        return REFERENCE / self.meta["checkpoint"]

    @property
    def split(self) -> bool:
        """LTX-2.5 ships one file per component (``checkpoint_layout: "split"``); 19B and 2.3 one file for all."""
        return self.meta.get("checkpoint_layout", "single") == "split"

    def checkpoint_file(self, component: str) -> Path:
        """The file holding ``component`` (``transformer``, ``text_encoder``, ``video_vae``, ``audio_vae``): its own
        file in a split case, the single checkpoint otherwise."""
        if not self.split:
            return self.checkpoint
        files = self.meta["checkpoint_files"]
        if component not in files:
            raise ValueError(f"{self.id}: no {component!r} file among {sorted(files)}")
        return REFERENCE / files[component]

    def tolerance(self, name: str) -> dict:
        return self.meta["expected"][name].get("tolerance", {"metric": "rel_l2", "max": 1e-5})

    def check(self, name: str, out: torch.Tensor, where: torch.Tensor | None = None) -> None:
        """Compare ``out`` with ``expected[name]``; ``where`` (bool, broadcastable) limits the positions."""
        ref = self.expected[name]
        assert tuple(out.shape) == tuple(ref.shape), f"{self.id} {name}: shape {list(out.shape)} != reference {list(ref.shape)}"
        out = out.detach().to("cpu")
        if where is not None:
            mask = where.expand_as(ref)
            out, ref = out[mask], ref[mask]
        tol = self.tolerance(name)
        if tol["metric"] == "max_abs":
            err = float((out.double() - ref.double()).abs().max()) if ref.numel() else 0.0
        else:
            err = rel_l2(out, ref)
        assert err <= tol["max"], f"{self.id} {name}: {tol['metric']} {err:.3g} > {tol['max']:.3g}"
        self.checked.add(name)


def cases() -> list[dict]:
    return INDEX["cases"]


def manifest(name: str) -> dict:
    """A full-size file's manifest: ``config`` and ``tensors`` {key: {shape, dtype}} (see the README, section 2)."""
    return json.loads((REFERENCE / "manifests" / name).read_text())
