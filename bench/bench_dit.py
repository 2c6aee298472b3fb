"""The full-size DiT on a GPU: one denoise step's forward time and peak memory, random weights.

    python bench/bench_dit.py --arch ltx2 --frames 121 --width 768 --height 512 [--runs 5]

Builds the real 19B (or 2.3 22B) transformer from the full-size config (the reference manifest's), in
bf16 with random weights (std 0.02), and times forward passes at a clip size (video tokens from the latent
grid, audio tokens at 25 per second, 1024 text tokens), the way one sampler step calls it. Reports mean
seconds per forward, tokens per second and peak GPU memory; the figures for a whole chunk are
steps x this. Meant for a CUDA device; ``--checkpoint <tiny file> --device cpu`` tries it on a CPU.

    python bench/bench_dit.py --cpu-compare [--runs 9] [--before 7454fd7] [--no-compile]

Before/after on the CPU, in one process: small 19B- and 2.3-architecture DiTs (the real configs' switches, 8
blocks of width 256, random float32 weights) written to a checkpoint file the bench makes, loaded by each engine's
own loader, and a sampler step on a clip the bench writes (a pinned first frame, 512 text tokens). "Before" is the
engine of the commit before the speed work (``--before``, read from git history: ``bench/engine_before.py``);
every other row is today's engine with the savings switched on one by one (the forward cache of RoPE tables,
caption projections and mask levels; the guidance passes batched; the text keys/values made once per distinct
prompt, ``cache_text``; the STG pass sharing the conditional pass's blocks before its skipped one,
``share_stg_prefix``), then today's default with its blocks compiled (``--compile``; the warm-up step compiles).
Per architecture: unguided, and guided with the reference guidance (CFG + STG + modality isolation, 4 passes; STG
at the reference block's depth scaled to 8 blocks). Each row: median seconds per step, the ratio to "before", and
the largest difference of its velocities from "before"'s.
"""

from __future__ import annotations

import argparse
import importlib
import json
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from types import ModuleType

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import ltx2  # noqa: E402
from ltx2.loading.checkpoint import CheckpointFile, detect_architecture  # noqa: E402
from ltx2.loading.transformer import DIT_PREFIX  # noqa: E402
from ltx2.model.compile import compile_blocks  # noqa: E402
from ltx2.model.forward_cache import ForwardCache  # noqa: E402
from ltx2.model.transformer import AudioVideoTransformer  # noqa: E402
from ltx2.sampling.guidance import default_guidance  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from engine_before import BEFORE_SPEED_WORK, engine_at  # noqa: E402
from gpu_check import build  # noqa: E402  (the same random DiT and chunk inputs as the GPU check)
from gpu_check import inputs as dit_inputs  # noqa: E402

MANIFESTS = {"ltx2": "ltx-2-19b.json", "ltx23": "ltx-2.3-22b.json"}
SMALL = {"num_layers": 8, "num_attention_heads": 4, "attention_head_dim": 64, "audio_num_attention_heads": 4, "audio_attention_head_dim": 32}
SMALL_CLIP = {"frames": 25, "width": 384, "height": 256, "fps": 24.0, "text": 512}  # 4 x 8 x 12 video tokens, 26 audio
FULL_DEPTH = 48  # blocks of the 19B and 2.3 DiTs


def manifest(arch: str) -> dict:
    return json.loads((ROOT / "tests/fixtures/reference/manifests" / MANIFESTS[arch]).read_text())["config"]


def part(engine: ModuleType, name: str) -> ModuleType:
    """Module ``name`` (e.g. ``sampling.velocity``) of an engine package (today's ``ltx2`` or an earlier one)."""
    return importlib.import_module(f"{engine.__name__}.{name}")


def write_small_checkpoint(arch: str, folder: Path) -> Path:
    """A checkpoint file of the architecture's DiT at :data:`SMALL`'s sizes (its config's switches), random float32
    weights (std 0.02, seeded), with the config in its metadata as the official files carry it."""
    from safetensors.torch import save_file

    config = manifest(arch)
    t = {**config["transformer"], **SMALL}
    dim, audio_dim = t["num_attention_heads"] * t["attention_head_dim"], t["audio_num_attention_heads"] * t["audio_attention_head_dim"]
    t.update(cross_attention_dim=dim, audio_cross_attention_dim=audio_dim, caption_channels=384)
    config = {**config, "transformer": t}
    with torch.device("meta"):
        shapes = {k: v.shape for k, v in AudioVideoTransformer.from_config(config).state_dict().items()}
    g = torch.Generator().manual_seed(0)
    state = {DIT_PREFIX + k: torch.randn(shape, generator=g) * 0.02 for k, shape in shapes.items()}
    path = folder / f"small-{arch}.safetensors"
    save_file(state, str(path), metadata={"config": json.dumps(config)})
    return path


def load_small(engine: ModuleType, path: Path):
    """The DiT of ``path`` as ``engine``'s loader builds it, float32 on the CPU."""
    checkpoint = part(engine, "loading.checkpoint").CheckpointFile(path)
    return part(engine, "loading.transformer").load_transformer(checkpoint, dtype=torch.float32).eval()


def small_step_inputs(engine: ModuleType, cfg):
    """(video state, audio state, positive contexts, negative contexts) of the small clip, first frame pinned, made
    with ``engine``'s own token states (the same numbers for every engine)."""
    tokens, positions = part(engine, "sampling.tokens"), part(engine, "model.positions")
    c = SMALL_CLIP
    f, h, w = (c["frames"] - 1) // 8 + 1, c["height"] // 32, c["width"] // 32
    steps = round(c["frames"] / c["fps"] * 25)
    g = torch.Generator().manual_seed(0)
    video = tokens.TokenState.empty(torch.randn(1, f * h * w, cfg.in_channels, generator=g), positions.video_positions(f, h, w, c["fps"]), first_frame_tokens=h * w)
    video = part(engine, "sampling.conditioning").replace_tokens(video, 0, torch.randn(1, h * w, cfg.in_channels, generator=g), 1.0)
    audio = tokens.TokenState.empty(torch.randn(1, steps, cfg.audio_in_channels, generator=g), positions.audio_positions(steps))
    widths = (cfg.caption_channels,) * 2 if cfg.caption_projection else (cfg.dim, cfg.audio_dim)

    def contexts():
        return tuple(torch.randn(1, c["text"], wd, generator=g) for wd in widths)

    return video, audio, contexts(), contexts()


def guidance_for(engine: ModuleType, arch: str):
    """The reference (video, audio) guidance in ``engine``'s own type, the STG block at its full-size depth scaled to
    :data:`SMALL`'s blocks."""
    kind = part(engine, "sampling.guidance").Guidance
    scaled = []
    for g in default_guidance(arch):
        blocks = tuple(round(b * SMALL["num_layers"] / FULL_DEPTH) for b in g.stg_blocks)
        scaled.append(kind(**{**asdict(g), "stg_blocks": blocks}))
    return tuple(scaled)


def step_times(steps: list[Callable], runs: int) -> tuple[list[float], list]:
    """Median seconds of each step function and its last output, after a warm-up call each; the functions take turns
    within every run, so a busy machine slows them alike."""
    times, outputs = [[] for _ in steps], [None] * len(steps)
    with torch.inference_mode():
        for i in range(runs + 1):
            for k, step in enumerate(steps):
                t = time.perf_counter()
                outputs[k] = step()
                if i:
                    times[k].append(time.perf_counter() - t)
    return [sorted(own)[len(own) // 2] for own in times], outputs


def engine_steps(engine: ModuleType, model, arch: str, guided: bool, options: dict) -> Callable:
    """One sampler step of ``engine``'s velocity model over its own inputs (``options``: today's switches)."""
    video, audio, positive, negative = small_step_inputs(engine, model.cfg)
    extra = {"negative": negative, "guidance": guidance_for(engine, arch)} if guided else {}
    velocity = part(engine, "sampling.velocity").DiTVelocity(model, *positive, **extra, **options)
    sigma = torch.tensor(0.6)
    return lambda: velocity(video, audio, sigma)


def cpu_compare(runs: int, before_rev: str | None, compiled: bool) -> None:
    """The before/after table of the speed work, per architecture."""
    before = None
    if before_rev:
        try:
            before = engine_at(before_rev)
        except LookupError as e:
            print(f"no 'before' rows: {e}", flush=True)
    base = "before" if before else "no forward cache"
    print(f"CPU, {torch.get_num_threads()} threads, torch {torch.__version__}; median s/step of {runs}; ratio = / {base}; diff = max |v - {base}'s v|", flush=True)
    print(f"{'arch':<7}{'step':<10}{'path':<46}{'s/step':>8}{'ratio':>7}{'diff':>10}", flush=True)
    old = {"cache_text": False, "share_stg_prefix": False}  # today's engine without these two savings
    folder = Path(tempfile.mkdtemp(prefix="ltx2-bench-"))
    for arch in MANIFESTS:
        path = write_small_checkpoint(arch, folder)
        model = load_small(ltx2, path)
        rows = {
            "unguided": [
                ("no forward cache", {"cache": ForwardCache(size=0), **old}),
                ("cached", old),
                ("cached + text K/V once (today's default)", {}),
            ],
            "guided": [
                ("no forward cache, sequential", {"cache": ForwardCache(size=0), "batch_passes": False, **old}),
                ("cached, sequential", {"batch_passes": False, **old}),
                ("cached, sequential + text K/V once", {"batch_passes": False}),
                ("cached, batched", old),
                ("cached, batched + text K/V once", {"share_stg_prefix": False}),
                ("  + STG prefix once (today's default)", {}),
            ],
        }
        for step, paths in rows.items():
            guided = step == "guided"
            names = [name for name, _ in paths]
            steps = [engine_steps(ltx2, model, arch, guided, options) for _, options in paths]
            if before:
                names.insert(0, f"before ({before_rev})")
                steps.insert(0, engine_steps(before, load_small(before, path), arch, guided, {}))
            if compiled:
                names.append("today's default, blocks compiled (--compile)")
                steps.append(engine_steps(ltx2, compile_blocks(load_small(ltx2, path)), arch, guided, {}))
                print(f"{arch} {step}: compiling the blocks (the warm-up step; a minute or two on a small CPU)", flush=True)
            times, outputs = step_times(steps, runs)
            for name, s, out in zip(names, times, outputs):
                diff = max((a - b).abs().max().item() for a, b in zip(out, outputs[0]))
                print(f"{arch:<7}{step:<10}{name:<46}{s:>8.4f}{s / times[0]:>7.2f}{diff:>10.1e}", flush=True)
    shutil.rmtree(folder, ignore_errors=True)


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
    parser.add_argument("--before", default=BEFORE_SPEED_WORK, help="--cpu-compare: the commit whose engine is 'before' ('' for none)")
    parser.add_argument("--no-compile", action="store_true", help="--cpu-compare: leave out the compiled rows (they compile for minutes)")
    args = parser.parse_args()
    if args.cpu_compare:
        cpu_compare(args.runs, args.before, not args.no_compile)
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
