"""Which card runs what: the memory planner on the official files' exact shapes, for the README's table.

    python bench/plan_cards.py [--width 768 --height 512 --frames 121] [--json]

The planner reads only safetensors headers, so this writes header-only stand-ins of the official files (sparse:
the data region is a hole, nothing is allocated) from the key/shape manifests in ``tests/fixtures/reference``
(LTX-2 19B and LTX-2.3 22B) and from Gemma 3 12B built on the meta device: each in bf16 and in the fp8 layout
(every block Linear weight ``float8_e4m3fn`` with a scalar ``weight_scale``). For each pair of files it prints the
planner's peak per offload mode and the smallest common card that runs the chunk.
"""

from __future__ import annotations

import argparse
import json
import math
import struct
import sys
import tempfile
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ltx2.loading.gemma import GEMMA3_12B_TEXT_CONFIG  # noqa: E402
from ltx2.memory.planner import GiB, Geometry, choose, plan_files  # noqa: E402

MANIFESTS = ROOT / "tests/fixtures/reference/manifests"
MODELS = {"LTX-2.3 22B": "ltx-2.3-22b.json", "LTX-2 19B": "ltx-2-19b.json"}
CARDS_GB = (8, 12, 16, 24, 32, 48, 80)
USABLE = 0.95  # of a card's memory: the desktop, other processes and fragmentation take the rest
NAMES = {torch.bfloat16: "BF16", torch.float32: "F32", torch.float8_e4m3fn: "F8_E4M3"}


def write_header_only(path: Path, tensors: dict[str, tuple[list[int], str]], metadata: dict[str, str]) -> None:
    """A valid safetensors header for ``tensors`` (key -> (shape, dtype name)); the data region left sparse."""
    size = {"BF16": 2, "F32": 4, "F8_E4M3": 1}
    header, offset = {"__metadata__": metadata}, 0
    for key in sorted(tensors):
        shape, dtype = tensors[key]
        end = offset + math.prod(shape) * size[dtype]
        header[key] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, end]}
        offset = end
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)) + raw)
        f.truncate(8 + len(raw) + offset)


def as_fp8(tensors: dict[str, tuple[list[int], str]], blocks: str) -> dict[str, tuple[list[int], str]]:
    """The official fp8 layout: block Linear weights in fp8 with a scalar scale each."""
    out = dict(tensors)
    for key, (shape, _) in tensors.items():
        if key.startswith(blocks) and key.endswith(".weight") and len(shape) == 2:
            out[key] = (shape, "F8_E4M3")
            out[key + "_scale"] = ([], "F32")
    return out


def ltx_files(folder: Path, manifest: str) -> dict[str, Path]:
    data = json.loads((MANIFESTS / manifest).read_text())
    tensors = {k: (v["shape"], "BF16") for k, v in data["tensors"].items()}
    metadata = {"config": json.dumps(data["config"]), "model_version": data.get("model_version", "")}
    out = {}
    for label, layout in (("bf16", tensors), ("fp8", as_fp8(tensors, "model.diffusion_model.transformer_blocks."))):
        out[label] = folder / f"{Path(manifest).stem}-{label}.safetensors"
        write_header_only(out[label], layout, metadata)
    return out


def gemma_files(folder: Path) -> dict[str, Path]:
    from transformers import Gemma3TextConfig, Gemma3TextModel

    with torch.device("meta"):
        model = Gemma3TextModel(Gemma3TextConfig(**GEMMA3_12B_TEXT_CONFIG))
    tensors = {f"model.{k}": (list(t.shape), "BF16") for k, t in model.state_dict().items()}
    out = {}
    for label, layout in (("bf16", tensors), ("fp8", as_fp8(tensors, "model.layers."))):
        out[label] = folder / f"gemma_3_12B_it_{label}.safetensors"
        write_header_only(out[label], layout, {})
    return out


def smallest_card(plans) -> tuple[str, str]:
    for gb in CARDS_GB:
        try:
            plan = choose(plans, int(gb * 1e9 * USABLE))
        except ValueError:
            continue
        return f"{gb} GB", plan.label
    return "more than 80 GB", "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=768)
    parser.add_argument("--height", type=int, default=512)
    parser.add_argument("--frames", type=int, default=121)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    geometry = Geometry(args.width, args.height, args.frames)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        gemma = gemma_files(Path(tmp))
        for model, manifest in MODELS.items():
            ltx = ltx_files(Path(tmp), manifest)
            for label in ("fp8", "bf16"):
                plans = plan_files(ltx[label], gemma[label], geometry, dtype=torch.bfloat16, device_type="cuda")
                card, mode = smallest_card(plans)
                rows.append({"files": f"{model} {label} + Gemma 3 {label}", "peaks_gib": {p.label: round(p.peak / GiB, 1) for p in plans}, "card": card, "mode": mode})
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    modes = list(rows[0]["peaks_gib"])
    print(f"one {args.frames}-frame {args.width}x{args.height} chunk, planner peak in GiB (incl. the CUDA context)")
    print(f"{'files':<34}" + "".join(f"{m:>12}" for m in modes) + "   smallest card")
    for row in rows:
        print(f"{row['files']:<34}" + "".join(f"{row['peaks_gib'][m]:>12.1f}" for m in modes) + f"   {row['card']} ({row['mode']})")


if __name__ == "__main__":
    main()
