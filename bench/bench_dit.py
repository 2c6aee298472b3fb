"""The full-size DiT on a GPU: one denoise step's forward time and peak memory, random weights.

    python bench/bench_dit.py --arch ltx2 --frames 121 --width 768 --height 512 [--runs 5]

Builds the real 19B (or 2.3 22B) transformer from the full-size config (the reference manifest's), in
bf16 with random weights (std 0.02), and times forward passes at a clip size (video tokens from the latent
grid, audio tokens at 25 per second, 1024 text tokens), the way one sampler step calls it. Reports mean
seconds per forward, tokens per second and peak GPU memory; the figures for a whole chunk are
steps x this. Meant for a CUDA device; ``--checkpoint <tiny file> --device cpu`` tries it on a CPU.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ltx2.loading.checkpoint import CheckpointFile, detect_architecture  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gpu_check import build  # noqa: E402  (the same random DiT and chunk inputs as the GPU check)
from gpu_check import inputs as dit_inputs  # noqa: E402

MANIFESTS = {"ltx2": "ltx-2-19b.json", "ltx23": "ltx-2.3-22b.json"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", choices=sorted(MANIFESTS), default="ltx2")
    parser.add_argument("--frames", type=int, default=121)
    parser.add_argument("--width", type=int, default=768)
    parser.add_argument("--height", type=int, default=512)
    parser.add_argument("--fps", type=float, default=24.0)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--checkpoint", help="take the config from this file instead (e.g. a tiny one, to try the script on CPU)")
    parser.add_argument("--device", default="cuda")
    args = parser.parse_args()
    device = torch.device(args.device)
    cuda = device.type == "cuda"
    t0 = time.perf_counter()
    if args.checkpoint:
        config = CheckpointFile(args.checkpoint).config
    else:
        config = json.loads((ROOT / "tests/fixtures/reference/manifests" / MANIFESTS[args.arch]).read_text())["config"]
    model = build(config, device, "bf16")
    build_s = time.perf_counter() - t0
    video, audio, video_tokens, audio_steps = dit_inputs(model, args.frames, args.width, args.height, args.fps, device)
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    times = []
    with torch.inference_mode():
        for i in range(args.runs + 2):
            if cuda:
                torch.cuda.synchronize()
            t = time.perf_counter()
            model(video, audio)
            if cuda:
                torch.cuda.synchronize()
            if i >= 2:
                times.append(time.perf_counter() - t)
    mean = sum(times) / len(times)
    print(
        json.dumps(
            {
                "arch": detect_architecture(config),
                "device": torch.cuda.get_device_name() if cuda else str(device),
                "params_billion": round(sum(p.numel() for p in model.parameters()) / 1e9, 2),
                "frames": args.frames,
                "size": f"{args.width}x{args.height}",
                "video_tokens": video_tokens,
                "audio_tokens": audio_steps,
                "forward_s": round(mean, 4),
                "forward_s_min": round(min(times), 4),
                "video_tokens_per_s": round(video_tokens / mean),
                "peak_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2) if cuda else None,
                "build_s": round(build_s, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
