"""One prepared GPU check of the offload modes: the full-size DiT denoising one chunk, per mode, against the planner.

    python bench/gpu_check.py [--arch ltx23 ltx2] [--weights fp8 bf16] [--steps 8] [--budget-s 480] [--json]
    python bench/gpu_check.py --dry-run      # the same code path on the CPU at the tiny configs (a test)
    python bench/gpu_check.py --speed [--dry-run]   # speed rows instead of the offload modes

For each architecture (LTX-2 19B, LTX-2.3 22B; full-size configs from the reference manifests) and weights
(``bf16``, ``fp8``: block Linears quantised per tensor with ``quantize_linears``), builds the DiT with random
weights directly on the GPU, then denoises one chunk (121 frames, 768x512: video tokens from the latent grid,
audio at 25 per second, 1024 text tokens) for ``--steps`` forwards inside ``Residency.phase("denoise")`` in each
offload mode: ``none`` (DiT on the GPU), ``model`` and ``blocks`` (8 blocks resident; the DiT starts on the
CPU). Reported: peak ``torch.cuda.max_memory_allocated``, seconds per step (after the first), seconds per guided step
(the reference guidance's 4 passes, ``--guided-steps``) with the passes batched and one by one, and the planner's
denoise estimate for the same mode (``plan_modes`` with the component bytes of the built model and
``activations.dit_forward_peak``). Goals (LTX-2.3 fp8): model-offload peak <= 24 GiB, blocks <= 12 GiB,
blocks step time <= 1.35x resident. Runs 2.3 fp8 first and stops starting new configurations once
``--budget-s`` is spent, so a partial run still answers the goals. Without CUDA (and without ``--dry-run``) it
says so and exits 0.

``--speed``: per architecture and clip size (121 frames at 768x512 and at 1280x704), the DiT resident, seconds
per unguided step (a forward over per-chunk caches, no host sync) for: bf16 eager with SDPA (the baseline), with
the text keys/values kept across steps, a step with the reference guidance (4 passes) run one after another with
nothing shared and as the renderer runs it (batched, text kept, STG from its first skipped block), each
optional attention backend (sageattention, flash-attn; a note when not installed or refused), bf16 with the blocks
compiled (``compile_blocks``; the first step, which compiles, is reported apart), and fp8 block weights with the
scaled fp8 matmul and without it (dequantised to bf16). Ratios are to the baseline of the same size.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ltx2.errors import InputError  # noqa: E402
from ltx2.loading.checkpoint import CheckpointFile  # noqa: E402
from ltx2.memory.planner import Component, plan_modes  # noqa: E402
from ltx2.memory.residency import Residency  # noqa: E402
from ltx2.model.attention import ATTENTION_BACKENDS, set_attention_backend  # noqa: E402
from ltx2.model.compile import compile_blocks  # noqa: E402
from ltx2.model.fp8_linear import fp8_matmul_supported, quantize_linears, set_fp8_matmul  # noqa: E402
from ltx2.model.positions import audio_positions, video_positions  # noqa: E402
from ltx2.model.forward_cache import ForwardCache  # noqa: E402
from ltx2.model.transformer import AudioVideoTransformer, ModalityInput  # noqa: E402
from ltx2.sampling.guidance import default_guidance  # noqa: E402
from ltx2.sampling.tokens import TokenState  # noqa: E402
from ltx2.sampling.velocity import DiTVelocity  # noqa: E402

GiB = 2**30
MANIFESTS = {"ltx23": "ltx-2.3-22b.json", "ltx2": "ltx-2-19b.json"}
MANIFEST_DIRS = [ROOT / "tests/fixtures/reference/manifests", ROOT.parent / "shared/reference/manifests"]
TINY = {"ltx23": "tiny-ltx-2.3-22b.safetensors", "ltx2": "tiny-ltx-2-19b.safetensors"}
TINY_DIRS = [ROOT / "tests/fixtures/reference/fixtures/checkpoints", ROOT.parent / "shared/reference/fixtures/checkpoints"]
TEXT_TOKENS = 1024
BLOCKS = 8  # blocks mode keeps this many (--dry-run: 1, so the tiny 2-block DiT streams)
MODES = ("none", "model", "blocks")
SPEED_SIZES = ((121, 768, 512), (121, 1280, 704))
DRY_SPEED_SIZES = ((25, 64, 64), (25, 96, 64))


def find(dirs: list[Path], name: str) -> Path:
    for d in dirs:
        if (d / name).exists():
            return d / name
    raise SystemExit(f"{name} not found in {', '.join(map(str, dirs))}")


def load_config(arch: str, dry_run: bool) -> dict:
    if dry_run:
        return CheckpointFile(find(TINY_DIRS, TINY[arch])).config
    return json.loads(find(MANIFEST_DIRS, MANIFESTS[arch]).read_text())["config"]


def build(config: dict, device: torch.device, weights: str = "bf16", dtype: torch.dtype = torch.bfloat16) -> AudioVideoTransformer:
    """The DiT with random weights (std 0.02) made on ``device``, in ``dtype``, its block Linears in fp8 if
    ``weights`` is "fp8"."""
    with torch.device("meta"):
        model = AudioVideoTransformer.from_config(config)
    model = model.to_empty(device=device).to(dtype)
    generator = torch.Generator(device=device).manual_seed(0)
    with torch.no_grad():
        for t in [*model.parameters(), *model.buffers()]:
            if t.is_floating_point():
                t.normal_(0.0, 0.02, generator=generator)
        if weights == "fp8":
            quantize_linears(model, "transformer_blocks.")
    return model.eval()


def component(model: AudioVideoTransformer) -> Component:
    """The DiT's bytes as the planner counts them, from the built model."""

    def nbytes(module) -> int:
        return sum(t.nbytes for t in [*module.parameters(), *module.buffers()])

    return Component(nbytes(model), dict(enumerate(nbytes(block) for block in model.transformer_blocks)))


def inputs(model: AudioVideoTransformer, frames: int, width: int, height: int, fps: float, device: torch.device):
    cfg = model.cfg
    f, h, w = (frames - 1) // 8 + 1, height // 32, width // 32
    audio_steps = round(frames / fps * 25)
    text_width = cfg.caption_channels if cfg.caption_projection else None

    def stream(tokens, channels, positions, context_width):
        return ModalityInput(
            torch.randn(1, tokens, channels, device=device, dtype=torch.bfloat16),
            torch.full((1, tokens), 0.5, device=device),
            torch.full((1,), 0.5, device=device),
            positions.to(device),
            torch.randn(1, TEXT_TOKENS, context_width, device=device, dtype=torch.bfloat16),
            timestep_levels=(torch.full((1,), 0.5, device=device), torch.zeros(1, tokens, dtype=torch.long, device=device)),
        )

    video = stream(f * h * w, cfg.in_channels, video_positions(f, h, w, fps), text_width or cfg.dim)
    audio = stream(audio_steps, cfg.audio_in_channels, audio_positions(audio_steps), text_width or cfg.audio_dim)
    return video, audio, f * h * w, audio_steps


def planned(config: dict, comp: Component, video_tokens: int, audio_tokens: int, device_type: str) -> dict:
    """Planner's denoise estimate per mode (bytes), or the reason there is none."""
    try:
        from ltx2.memory import activations

        work = {"denoise": activations.dit_forward_peak(config["transformer"], video_tokens, audio_tokens, TEXT_TOKENS, 1, 2)}
    except Exception as e:  # the activation model is optional here: the weights part still stands
        work, note = {}, f"no activation estimate ({type(e).__name__}: {e})"
    else:
        note = None
    out = {}
    for plan in plan_modes({"transformer": comp}, work, device_type):
        if plan.mode in ("none", "model") or plan.blocks == BLOCKS:
            d = plan.phases["denoise"]
            out[plan.mode] = {"weights": d.weights, "activations": d.activations, "peak": d.peak, "with_overhead": d.peak + plan.overhead}
    return {"modes": out, "note": note}


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def run_mode(config: dict, arch: str, weights: str, mode: str, args, device: torch.device) -> dict:
    t0 = time.perf_counter()
    model = build(config, device, weights)
    comp = component(model)
    if mode != "none":
        model = model.to("cpu")  # the DiT starts on the CPU; the residency brings it (or its blocks) in
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)
    build_s = time.perf_counter() - t0
    video, audio, vt, at = inputs(model, args.frames, args.width, args.height, args.fps, device)
    residency = Residency({"transformer": model}, device, mode, blocks=BLOCKS)
    times, guided_s = [], {}
    with torch.inference_mode(), residency.phase("denoise") as record:
        for _ in range(args.steps):
            sync(device)
            t = time.perf_counter()
            model(video, audio)
            sync(device)
            times.append(time.perf_counter() - t)
        peak = torch.cuda.max_memory_allocated(device) if device.type == "cuda" else None
        # a guided step (the reference guidance, 4 passes) in this mode, its passes as one batch and one by one: which
        # way, with which residency, the planner should choose on a card where the batch needs the room of blocks
        for way, options in (("batched", {}), ("one_by_one", {"batch_passes": False})):
            try:
                guided_s[way] = timed_steps(guided(model, arch, video, audio, **options), args.guided_steps, device)[1] if args.guided_steps else None
            except torch.cuda.OutOfMemoryError:
                guided_s[way] = None
                torch.cuda.empty_cache()
    residency.close()
    steady = times[1:] or times
    result = {
        "weights": weights, "mode": mode if mode != "blocks" else f"blocks{BLOCKS}", "params_billion": round(sum(p.numel() for p in model.parameters()) / 1e9, 2),
        "dit_gib": comp.bytes / GiB, "peak_gib": None if peak is None else peak / GiB, "step_s": sum(steady) / len(steady), "first_step_s": times[0],
        "guided_batched_s": guided_s.get("batched"), "guided_one_by_one_s": guided_s.get("one_by_one"),
        "resident_gib": sum(record.resident.values()) / GiB, "blocks_peak": record.blocks_peak, "build_s": build_s, "video_tokens": vt, "audio_tokens": at,
        "plan": planned(config, comp, vt, at, device.type),
    }  # fmt: skip
    del model, residency, video, audio
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return result


def timed_steps(step: Callable[[], object], steps: int, device: torch.device) -> tuple[float, float]:
    """(first step s, mean s of the others) of ``steps`` calls of ``step``."""
    times = []
    with torch.inference_mode():
        for _ in range(steps):
            sync(device)
            t = time.perf_counter()
            step()
            sync(device)
            times.append(time.perf_counter() - t)
    steady = times[1:] or times
    return times[0], sum(steady) / len(steady)


def unguided(model: AudioVideoTransformer, video: ModalityInput, audio: ModalityInput, cache_text: bool = False) -> Callable[[], object]:
    """One unguided sampler step: a forward over a ForwardCache kept across steps (with the text keys/values)."""
    cache = ForwardCache()
    return lambda: model(video, audio, None, cache, cache_text=cache_text)


def guided(model: AudioVideoTransformer, arch: str, video: ModalityInput, audio: ModalityInput, **options) -> Callable[[], object]:
    """One sampler step with the reference guidance (CFG + STG + modality isolation: 4 passes) as the renderer runs it
    (batched, text keys/values kept, the STG pass from its first skipped block on), or as ``options`` (DiTVelocity's
    switches) say."""
    last = len(model.transformer_blocks) - 1  # the tiny DiT of --dry-run has no block 28/29
    gv, ga = (replace(g, stg_blocks=tuple(min(b, last) for b in g.stg_blocks)) for g in default_guidance(arch))
    state = [TokenState.empty(s.latent, s.positions) for s in (video, audio)]
    negative = tuple(torch.randn_like(s.context) for s in (video, audio))
    velocity = DiTVelocity(model, video.context, audio.context, negative=negative, guidance=(gv, ga), **options)
    sigma = torch.tensor(0.5, device=video.latent.device)
    return lambda: velocity(*state, sigma)


def speed(args, device: torch.device) -> None:
    """The ``--speed`` rows (see the module doc)."""
    sizes = DRY_SPEED_SIZES if args.dry_run else SPEED_SIZES
    compile_backend = "aot_eager" if args.dry_run else "inductor"  # inductor's CPU build is minutes: the dry run checks the path
    print(f"{'arch':<7}{'size':<14}{'row':<30}{'s/step':>8}{'ratio':>7}{'1st s':>8}", flush=True)
    t0, notes = time.perf_counter(), []
    for arch in args.arch:
        config = load_config(arch, args.dry_run)
        for frames, width, height in sizes:
            size, base = f"{frames}x{width}x{height}", None

            def row(name, make_step, arch=arch, size=size):
                nonlocal base
                if time.perf_counter() - t0 > args.budget_s:
                    notes.append(f"{arch} {size} {name}: not run (past --budget-s {args.budget_s:.0f})")
                    return
                try:
                    first, step = timed_steps(make_step(), args.steps, device)
                except Exception as e:  # report and go on: one row failing must not lose the others
                    notes.append(f"{arch} {size} {name}: {type(e).__name__}: {e}")
                    return
                base = base or step
                print(f"{arch:<7}{size:<14}{name:<30}{step:>8.3f}{step / base:>7.2f}{first:>8.2f}", flush=True)

            model = build(config, device)
            video, audio, _, _ = inputs(model, frames, width, height, args.fps, device)
            row("bf16 sdpa eager", partial(unguided, model, video, audio))
            row("bf16 eager, text K/V kept", partial(unguided, model, video, audio, cache_text=True))
            row("guided 4 passes, sequential", partial(guided, model, arch, video, audio, batch_passes=False, cache_text=False, share_stg_prefix=False))
            row("guided 4 passes, shared", partial(guided, model, arch, video, audio))
            for backend in ATTENTION_BACKENDS[1:]:
                try:
                    set_attention_backend(backend)
                except InputError as e:
                    notes.append(f"{arch} {size} {backend}: skipped ({e})")
                    continue
                row(f"bf16 {backend} eager", partial(unguided, model, video, audio))
                set_attention_backend("sdpa")
            compiled = compile_blocks(model, backend=compile_backend)
            row(f"bf16 sdpa compiled ({compile_backend})", partial(unguided, compiled, video, audio))
            del model, compiled
            gc.collect()
            model = build(config, device, "fp8")
            if fp8_matmul_supported(device):
                set_fp8_matmul(model, True)
                row("fp8 weights, fp8 matmul", partial(unguided, model, video, audio))
            else:
                notes.append(f"{arch} {size} fp8 matmul: skipped (needs compute capability 8.9 or newer)")
            set_fp8_matmul(model, False)
            row("fp8 weights, bf16 matmul", partial(unguided, model, video, audio))
            del model, video, audio
            gc.collect()
            if device.type == "cuda":
                torch.cuda.empty_cache()
    for note in notes:
        print(f"note: {note}")
    print(f"(total {time.perf_counter() - t0:.0f} s)")


def fmt(x, spec=".2f") -> str:
    return "-" if x is None else format(x, spec)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", nargs="+", choices=list(MANIFESTS), default=list(MANIFESTS))
    parser.add_argument("--weights", nargs="+", choices=["fp8", "bf16"], default=["fp8", "bf16"])
    parser.add_argument("--modes", nargs="+", choices=list(MODES), default=list(MODES))
    parser.add_argument("--steps", type=int, default=8, help="DiT forwards per mode (the distilled schedule's 8)")
    parser.add_argument("--frames", type=int, default=121)
    parser.add_argument("--width", type=int, default=768)
    parser.add_argument("--height", type=int, default=512)
    parser.add_argument("--fps", type=float, default=24.0)
    parser.add_argument("--guided-steps", type=int, default=3, help="guided steps per mode and way (batched, one by one); 0 for none")
    parser.add_argument("--budget-s", type=float, default=480, help="start no new configuration after this many seconds")
    parser.add_argument("--dry-run", action="store_true", help="the same code path on the CPU at the tiny configs, 2 steps, 25 frames 64x64")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--speed", action="store_true", help="speed rows (compile, attention backends, fp8 matmul) instead of the offload modes")
    args = parser.parse_args()
    if args.dry_run:
        device = torch.device("cpu")
        args.steps, args.guided_steps, args.frames, args.width, args.height = min(args.steps, 2), min(args.guided_steps, 2), 25, 64, 64
        global BLOCKS, GiB
        BLOCKS, GiB = 1, 2**20  # stream the tiny DiT's blocks; figures in MiB
    elif not torch.cuda.is_available():
        print("gpu_check: skipped: no CUDA device here (use --dry-run to try the code path on the CPU)")
        return
    else:
        device = torch.device("cuda")
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu (dry run, tiny configs)"
    print(f"gpu_check on {name}: {args.frames} frames {args.width}x{args.height}, {args.steps} steps, torch {torch.__version__}", flush=True)
    if args.speed:
        speed(args, device)
        return
    unit = "GiB" if GiB == 2**30 else "MiB"
    header = f"{'arch':<7}{'weights':<8}{'mode':<9}{'DiT ' + unit:>8}{'peak ' + unit:>9}{'plan ' + unit:>9}{'plan/peak':>10}{'s/step':>8}{'1st s':>7}{'guided s':>9}{'1-by-1 s':>9}{'build s':>8}"
    print(header, flush=True)
    t0 = time.perf_counter()
    results, skipped = [], []
    for arch in args.arch:
        config = load_config(arch, args.dry_run)
        for weights in args.weights:
            for mode in args.modes:
                if time.perf_counter() - t0 > args.budget_s:
                    skipped.append(f"{arch}/{weights}/{mode}")
                    continue
                try:
                    r = {"arch": arch, **run_mode(config, arch, weights, mode, args, device)}
                except Exception as e:  # report and go on: one configuration failing must not lose the others
                    r = {"arch": arch, "weights": weights, "mode": mode, "error": f"{type(e).__name__}: {e}"}
                    print(f"{arch:<7}{weights:<8}{mode:<9}error: {r['error']}", flush=True)
                    results.append(r)
                    if device.type == "cuda":
                        torch.cuda.empty_cache()
                    continue
                est = r["plan"]["modes"].get(mode, {}).get("peak")
                ratio = est / GiB / r["peak_gib"] if est and r["peak_gib"] else None
                print(
                    f"{arch:<7}{weights:<8}{r['mode']:<9}{r['dit_gib']:>8.2f}{fmt(r['peak_gib']):>9}{fmt(est and est / GiB):>9}{fmt(ratio):>10}"
                    f"{r['step_s']:>8.3f}{r['first_step_s']:>7.2f}{fmt(r['guided_batched_s'], '.3f'):>9}{fmt(r['guided_one_by_one_s'], '.3f'):>9}{r['build_s']:>8.1f}",
                    flush=True,
                )
                results.append(r)
    notes = {r["plan"]["note"] for r in results if "plan" in r and r["plan"]["note"]}
    for note in notes:
        print(f"planner: {note}")
    if skipped:
        print(f"not run (past --budget-s {args.budget_s:.0f}): {', '.join(skipped)}")

    def get(arch, weights, mode, key):
        return next((r.get(key) for r in results if r["arch"] == arch and r["weights"] == weights and r["mode"] == mode and "error" not in r), None)

    peak_model = get("ltx23", "fp8", "model", "peak_gib")
    peak_blocks = get("ltx23", "fp8", f"blocks{BLOCKS}", "peak_gib")
    step_none, step_blocks = get("ltx23", "fp8", "none", "step_s"), get("ltx23", "fp8", f"blocks{BLOCKS}", "step_s")
    goals = [
        ("2.3 fp8 model-offload peak GiB", peak_model and peak_model * GiB / 2**30, 24.0),
        (f"2.3 fp8 blocks ({BLOCKS}) peak GiB", peak_blocks and peak_blocks * GiB / 2**30, 12.0),
        (f"2.3 fp8 blocks ({BLOCKS}) s/step / resident", step_blocks / step_none if step_blocks and step_none else None, 1.35),
    ]
    print()
    # the planner plans a guided render's denoise with room for one pass (weights resident, passes one by one where the
    # batch does not fit): right when that is not slower than the batch with blocks streamed
    for arch in args.arch:
        for weights in args.weights:
            resident, streamed = get(arch, weights, "model", "guided_one_by_one_s"), get(arch, weights, f"blocks{BLOCKS}", "guided_batched_s")
            if resident and streamed:
                verdict = "one by one resident is faster: the planner is right" if resident <= streamed else "streaming the batch is faster: plan the batch"
                verdict = "dry-run" if args.dry_run else verdict  # tiny configs on the CPU: the code path, not the answer
                print(f"guided {arch} {weights}: model, passes one by one {resident:.3f} s/step vs blocks ({BLOCKS}), batched {streamed:.3f}: {verdict}")
    for label, value, target in goals:
        result = "PASS" if value is not None and value <= target else "MISS"
        if args.dry_run:
            result = "dry-run"  # tiny configs on the CPU: the figures test the code path, not the goals
        print(f"{result:<8}{label:<40}{fmt(value, '.3f'):>8} (target <= {target})")
    print(f"(total {time.perf_counter() - t0:.0f} s)")
    if args.json:
        print(json.dumps({"device": name, "results": results, "goals": [{"goal": g, "value": v, "target": t} for g, v, t in goals]}, indent=1))


if __name__ == "__main__":
    main()
