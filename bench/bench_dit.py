"""The full-size DiT on a GPU: one denoise step's forward time and peak memory, random weights.

    python bench/bench_dit.py --arch ltx2 --frames 121 --width 768 --height 512 [--runs 5]

Builds the real 19B (or 2.3 22B) transformer from the full-size config (the reference manifest's), in
bf16 with random weights (std 0.02), and times forward passes at a clip size (video tokens from the latent
grid, audio tokens at 25 per second, 1024 text tokens), the way one sampler step calls it. Reports mean
seconds per forward, tokens per second and peak GPU memory; the figures for a whole chunk are
steps x this. Meant for a CUDA device; ``--checkpoint <tiny file> --device cpu`` tries it on a CPU.

    python bench/bench_dit.py --cpu-compare [--runs 5]

Before/after on the CPU, in one process: small 19B- and 2.3-architecture DiTs (the real configs' switches, 4
blocks of width 256, random float32 weights) and a sampler step on a clip the bench writes (a pinned first
frame, 512 text tokens). Per-step time of the old path (no cache: RoPE tables, caption projections and the mask's
distinct values made every call; guidance passes one after another) and of the cached and batched ones, as
ratios to the old path: unguided, and guided with CFG + STG + modality isolation (4 passes). Each saving is a row
of its own, added to the one above it: the text keys/values made once per distinct prompt (``cache_text``: 19B
once per run, 2.3 once per step) and the STG pass sharing the conditional pass's blocks before its skipped one
(``share_stg_prefix``).
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
from ltx2.model.forward_cache import ForwardCache  # noqa: E402
from ltx2.sampling.conditioning import replace_tokens  # noqa: E402
from ltx2.sampling.guidance import Guidance  # noqa: E402
from ltx2.sampling.tokens import TokenState  # noqa: E402
from ltx2.sampling.velocity import DiTVelocity  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gpu_check import build  # noqa: E402  (the same random DiT and chunk inputs as the GPU check)
from gpu_check import inputs as dit_inputs  # noqa: E402

MANIFESTS = {"ltx2": "ltx-2-19b.json", "ltx23": "ltx-2.3-22b.json"}
SMALL = {"num_layers": 4, "num_attention_heads": 4, "attention_head_dim": 64, "audio_num_attention_heads": 4, "audio_attention_head_dim": 32}
SMALL_CLIP = {"frames": 25, "width": 384, "height": 256, "fps": 24.0, "text": 512}  # 4 x 8 x 12 video tokens, 26 audio
GUIDED = Guidance(cfg=3.0, stg=1.0, stg_blocks=(2,), rescale=0.7, modality=3.0)


def manifest(arch: str) -> dict:
    return json.loads((ROOT / "tests/fixtures/reference/manifests" / MANIFESTS[arch]).read_text())["config"]


def small_model(arch: str):
    """The architecture's DiT at a small size: its config's switches with :data:`SMALL`'s sizes, float32 on the CPU."""
    config = manifest(arch)
    t = {**config["transformer"], **SMALL}
    dim, audio_dim = t["num_attention_heads"] * t["attention_head_dim"], t["audio_num_attention_heads"] * t["audio_attention_head_dim"]
    t.update(cross_attention_dim=dim, audio_cross_attention_dim=audio_dim, caption_channels=384)
    return build({**config, "transformer": t}, torch.device("cpu"), dtype=torch.float32)


def small_step_inputs(model):
    """(video state, audio state, positive contexts, negative contexts) of the small clip, first frame pinned."""
    c, cfg = SMALL_CLIP, model.cfg
    f, h, w = (c["frames"] - 1) // 8 + 1, c["height"] // 32, c["width"] // 32
    steps = round(c["frames"] / c["fps"] * 25)
    g = torch.Generator().manual_seed(0)
    video = TokenState.empty(torch.randn(1, f * h * w, cfg.in_channels, generator=g), video_positions(f, h, w, c["fps"]), first_frame_tokens=h * w)
    video = replace_tokens(video, 0, torch.randn(1, h * w, cfg.in_channels, generator=g), 1.0)
    audio = TokenState.empty(torch.randn(1, steps, cfg.audio_in_channels, generator=g), audio_positions(steps))
    widths = (cfg.caption_channels,) * 2 if cfg.caption_projection else (cfg.dim, cfg.audio_dim)

    def contexts():
        return tuple(torch.randn(1, c["text"], wd, generator=g) for wd in widths)

    return video, audio, contexts(), contexts()


def step_times(velocities: list[DiTVelocity], video, audio, runs: int) -> list[float]:
    """Median seconds of one sampler step per velocity model, after a warm-up step each; the models take turns
    within every run, so a busy machine slows them alike."""
    sigma, times = torch.tensor(0.6), [[] for _ in velocities]
    with torch.inference_mode():
        for i in range(runs + 1):
            for velocity, own in zip(velocities, times):
                t = time.perf_counter()
                velocity(video, audio, sigma)
                if i:
                    own.append(time.perf_counter() - t)
    return [sorted(own)[len(own) // 2] for own in times]


def cpu_compare(runs: int) -> None:
    """The before/after table of the speed work, per architecture."""
    print(f"CPU, {torch.get_num_threads()} threads, torch {torch.__version__}; median s/step of {runs}; ratio = / the old path", flush=True)
    print(f"{'arch':<7}{'step':<10}{'path':<34}{'s/step':>8}{'ratio':>7}", flush=True)
    before = {"cache_text": False, "share_stg_prefix": False}  # the paths as they were before these two savings
    for arch in MANIFESTS:
        model = small_model(arch)
        video, audio, positive, negative = small_step_inputs(model)
        rows = {
            "unguided": [
                ("old (no cache)", {"cache": ForwardCache(size=0), **before}),
                ("cached", before),
                ("cached + text K/V once", {}),
            ],
            "guided": [
                ("old (no cache, sequential)", {"cache": ForwardCache(size=0), "batch_passes": False, **before}),
                ("cached, sequential", {"batch_passes": False, **before}),
                ("cached, sequential + text K/V once", {"batch_passes": False}),
                ("no cache, batched", {"cache": ForwardCache(size=0), **before}),
                ("cached, batched", before),
                ("cached, batched + text K/V once", {"share_stg_prefix": False}),
                ("  + STG prefix once (all)", {}),
            ],
        }
        for step, paths in rows.items():
            guided = {"negative": negative, "guidance": (GUIDED, GUIDED)} if step == "guided" else {}
            times = step_times([DiTVelocity(model, *positive, **guided, **options) for _, options in paths], video, audio, runs)
            for (name, _), s in zip(paths, times):
                print(f"{arch:<7}{step:<10}{name:<34}{s:>8.4f}{s / times[0]:>7.2f}", flush=True)


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
    parser.add_argument("--cpu-compare", action="store_true", help="before/after step times of small DiTs on the CPU (see above)")
    args = parser.parse_args()
    if args.cpu_compare:
        cpu_compare(args.runs)
        return
    device = torch.device(args.device)
    cuda = device.type == "cuda"
    t0 = time.perf_counter()
    if args.checkpoint:
        config = CheckpointFile(args.checkpoint).config
    else:
        config = manifest(args.arch)
    model = build(config, device)
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
