"""Seam benchmark: the same chain rendered in each handoff configuration, and its seam report side by side.

    python bench/bench_seams.py                                  # the demo model, tiny sizes, CPU: about a minute
    python bench/bench_seams.py --checkpoint ltx-2.safetensors --gemma gemma-3-12b --width 768 --height 512 \\
        --clip-frames 121 --tail-frames 25 --chunks 4 --prompt "..."

Configurations: handoff reencode / latent x crossfade off / on x handoff strength 1.0 / 0.8 x tail noise 0 / 0.1 x
drift 0 / 0.3 (32 renders; ``--quick``: the baseline and each change alone, 6 renders). Every render uses the same
plan, prompt and seed. Reported per configuration: the highest boundary score and what drives it, the mean score,
the boundaries that read as seams, and the linear-weight VDE of sharpness, lightness, motion and loudness.

With the demo model (random weights) the picture and sound are noise: the figures then show that the bench and
the report run, and mean nothing about which configuration makes better seams. Run it with real weights on a GPU
to choose defaults from numbers.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ltx2.chain.plan import make_plan  # noqa: E402
from ltx2.chain.schedule import ChunkSchedule  # noqa: E402
from ltx2.pipeline.run import render_chain  # noqa: E402
from ltx2.pipeline.settings import RenderSettings  # noqa: E402
from ltx2.seams import measure_seams  # noqa: E402

AXES = {"handoff": ("reencode", "latent"), "crossfade": (False, True), "strength": (1.0, 0.8), "tail_noise": (0.0, 0.1), "drift": (0.0, 0.3)}
DEMO_SIGMAS = (1.0, 0.7, 0.3, 0.0)
"""A short schedule for the demo model: its output is noise whatever the steps."""


def configurations(quick: bool) -> list[dict]:
    baseline = {name: values[0] for name, values in AXES.items()}
    if quick:
        return [baseline, *({**baseline, name: values[1]} for name, values in AXES.items())]
    return [dict(zip(AXES, combo)) for combo in itertools.product(*AXES.values())]


def load(args):
    if args.checkpoint is None:
        from ltx2.pipeline.models import demo_models

        return demo_models(args.device or "cpu")
    from ltx2.loading.model_set import ModelSet
    from ltx2.pipeline.models import load_models

    return load_models(ModelSet.resolve(args.checkpoint, args.gemma), device=args.device)


def render_and_measure(models, args, config: dict, folder: Path) -> dict:
    demo = args.checkpoint is None
    plan = make_plan(fps=24, clip_frames=args.clip_frames, tail_frames=args.tail_frames, crossfade=config["crossfade"],
                     total_frames=args.clip_frames + (args.chunks - 1) * (args.clip_frames - args.tail_frames))  # fmt: skip
    settings = RenderSettings(width=args.width, height=args.height, handoff=config["handoff"], drift=config["drift"],
                              **({"sigmas": DEMO_SIGMAS, "guidance": "off"} if demo else {}))  # fmt: skip
    schedule = ChunkSchedule(prompt=args.prompt, seed=args.seed, handoff_strength=config["strength"], tail_noise=config["tail_noise"])
    out = folder / "chain.mp4"
    t0 = time.perf_counter()
    render_chain(models, settings, plan, schedule, out_path=out)
    seconds = time.perf_counter() - t0
    report = measure_seams(out, plan=plan)
    out.unlink()
    worst = report.worst
    linear = report.vde["linear"]
    return {
        **config,
        "max_score": worst["score"],
        "worst": f"{worst['frame']} {worst['worst_metric']}",
        "mean_score": sum(b["score"] for b in report.boundaries) / len(report.boundaries),
        "seams": sum(b["seam"] for b in report.boundaries),
        **{f"vde_{m}": linear.get(m) for m in ("sharpness", "lightness", "motion", "loudness_rms")},
        "render_s": seconds,
    }


def table(rows: list[dict]) -> str:
    head = f"{'handoff':>8} {'xfade':>5} {'str':>4} {'noise':>5} {'drift':>5} {'max':>6} {'worst':>18} {'mean':>6} {'seams':>5} " \
           f"{'VDE sharp':>9} {'VDE L*':>7} {'VDE mot':>7} {'VDE loud':>8} {'render s':>8}"  # fmt: skip
    lines = [head]
    for r in rows:
        vde = " ".join(f"{r[k]:>{w}.3f}" if r[k] is not None else f"{'-':>{w}}" for k, w in (("vde_sharpness", 9), ("vde_lightness", 7), ("vde_motion", 7), ("vde_loudness_rms", 8)))
        lines.append(f"{r['handoff']:>8} {'on' if r['crossfade'] else 'off':>5} {r['strength']:>4.1f} {r['tail_noise']:>5.1f} {r['drift']:>5.1f} "
                     f"{r['max_score']:>6.2f} {r['worst']:>18} {r['mean_score']:>6.2f} {r['seams']:>5} {vde} {r['render_s']:>8.1f}")  # fmt: skip
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", type=Path, help="real weights (default: the built-in demo model)")
    parser.add_argument("--gemma", type=Path, help="the text encoder, with --checkpoint")
    parser.add_argument("--device", help="cuda, cpu... (default: cpu for the demo, cuda when available otherwise)")
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--height", type=int, default=96)
    parser.add_argument("--clip-frames", type=int, default=25)
    parser.add_argument("--tail-frames", type=int, default=9)
    parser.add_argument("--chunks", type=int, default=4)
    parser.add_argument("--prompt", default="a slow pan across a quiet harbour at dawn, gulls calling")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="the baseline and each change alone (6 renders) instead of all 32 combinations")
    args = parser.parse_args()

    demo = args.checkpoint is None
    if demo:
        print("DEMO MODEL: random weights, the picture and sound are noise; these figures say nothing about seam quality.\n", file=sys.stderr)
    models = load(args)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for config in configurations(args.quick):
            rows.append(render_and_measure(models, args, config, Path(tmp)))
            print(f"  {len(rows)} rendered", file=sys.stderr, end="\r")
    print(file=sys.stderr)
    print(f"{args.chunks} chunks of {args.clip_frames} frames (tail {args.tail_frames}), {args.width}x{args.height}; "
          f"score ~1: a boundary like its surroundings, >= 3: a seam; VDE with linear weights")  # fmt: skip
    print(table(rows))
    if demo:
        print("\nDEMO MODEL: random weights; the table shows the bench and the report run, not which configuration seams better.")


if __name__ == "__main__":
    main()
