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
from ltx2.model.positions import audio_positions, video_positions  # noqa: E402
from ltx2.model.transformer import AudioVideoTransformer, ModalityInput  # noqa: E402

MANIFESTS = {"ltx2": "ltx-2-19b.json", "ltx23": "ltx-2.3-22b.json"}


def build(config: dict, device: torch.device) -> AudioVideoTransformer:
    with torch.device("meta"):
        model = AudioVideoTransformer.from_config(config)
    model = model.to_empty(device=device).to(torch.bfloat16)
    generator = torch.Generator(device=device).manual_seed(0)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, 0.02, generator=generator)
    return model.eval()


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
    model = build(config, device)
    build_s = time.perf_counter() - t0
    cfg = model.cfg
    f, h, w = (args.frames - 1) // 8 + 1, args.height // 32, args.width // 32
    audio_steps = round(args.frames / args.fps * 25)
    text_width = cfg.caption_channels if cfg.caption_projection else None

    def stream(tokens, channels, positions, context_width):
        return ModalityInput(
            torch.randn(1, tokens, channels, device=device, dtype=torch.bfloat16),
            torch.full((1, tokens), 0.5, device=device),
            torch.full((1,), 0.5, device=device),
            positions.to(device),
            torch.randn(1, 1024, context_width, device=device, dtype=torch.bfloat16),
        )

    video = stream(f * h * w, cfg.in_channels, video_positions(f, h, w, args.fps), text_width or cfg.dim)
    audio = stream(audio_steps, cfg.audio_in_channels, audio_positions(audio_steps), text_width or cfg.audio_dim)
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
                "video_tokens": f * h * w,
                "audio_tokens": audio_steps,
                "forward_s": round(mean, 4),
                "forward_s_min": round(min(times), 4),
                "video_tokens_per_s": round(f * h * w / mean),
                "peak_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2) if cuda else None,
                "build_s": round(build_s, 1),
            }
        )
    )


if __name__ == "__main__":
    main()
