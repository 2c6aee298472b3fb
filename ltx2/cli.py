"""``python -m ltx2``: the engine from the command line.

    python -m ltx2 plan --seconds 20 --fps 24 --clip-frames 121 --tail-frames 25 [--schedule s.json] [--json]
    python -m ltx2 schema

Bad input exits with status 2 and one message per problem, naming the field.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .chain.plan import DEFAULT_MAX_CHUNKS, ChainPlan, make_plan
from .chain.report import plan_report
from .chain.schedule import ChunkSchedule, ScheduleError
from .errors import InputError
from .pipeline.settings import HANDOFF_MODES


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m ltx2", description="LTX-2 Chain: long LTX-2 videos, chunk by chunk.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    plan = commands.add_parser("plan", help="print how a chain splits into chunks (a dry run)")
    length = plan.add_mutually_exclusive_group(required=True)
    length.add_argument("--frames", type=int, help="total output frames")
    length.add_argument("--seconds", type=float, help="total output length in seconds (rounded to a frame)")
    plan.add_argument("--fps", default="24", help="frame rate, e.g. 24, 25 or 24000/1001 (default 24)")
    plan.add_argument("--clip-frames", type=int, default=121, help="frames rendered per chunk, 8k+1 (default 121)")
    plan.add_argument("--tail-frames", type=int, default=25, help="frames handed from chunk to chunk, 8k+1 (default 25)")
    plan.add_argument("--max-chunks", type=int, default=DEFAULT_MAX_CHUNKS, help=f"refuse plans with more chunks (default {DEFAULT_MAX_CHUNKS})")
    plan.add_argument("--schedule", type=Path, help="a schedule JSON file: also show each chunk's resolved parameters")
    plan.add_argument("--crossfade", action="store_true", help="the receiving chunk delivers each overlap, crossfaded from the tail")
    plan.add_argument("--json", action="store_true", help="print the plan as JSON")

    render = commands.add_parser("render", help="render a video (chained automatically when longer than one clip)")
    source = render.add_argument_group("model")
    source.add_argument("--demo", action="store_true", help="a tiny random built-in model: a pipeline demo, the picture and sound are noise")
    source.add_argument("--checkpoint", type=Path, help="official LTX-2 / LTX-2.3 .safetensors")
    source.add_argument("--gemma", type=Path, help="Gemma 3 12B: a model folder, or ComfyUI's single .safetensors")
    source.add_argument("--tokenizer", type=Path, help="Gemma tokenizer (folder, tokenizer.json or tokenizer.model) for a single-file Gemma")
    source.add_argument("--fused-lora", action="append", default=[], metavar="FILE[:STRENGTH]", help="merge a LoRA at load (e.g. the distilled LoRA)")
    source.add_argument("--lora", action="append", default=[], metavar="NAME=FILE", help="attach a runtime LoRA that schedules ramp by NAME")
    source.add_argument("--upsampler", type=Path, help="spatial x2 latent upsampler file (for --two-stage)")
    source.add_argument("--device", help="cuda, cpu, ... (default: cuda when available)")
    what = render.add_argument_group("video")
    what.add_argument("--prompt", help="the prompt (overrides the schedule's opening prompt)")
    what.add_argument("--negative-prompt", help="negative prompt (used with --guidance)")
    what.add_argument("--image", type=Path, help="image for the first frame (image-to-video)")
    what.add_argument("--schedule", type=Path, help="schedule JSON: prompt keyframes, seeds, LoRA ramps, anchors (python -m ltx2 schema)")
    what.add_argument("--seed", type=int, help="seed (overrides the schedule's)")
    length = what.add_mutually_exclusive_group(required=True)
    length.add_argument("--frames", type=int, help="total output frames")
    length.add_argument("--seconds", type=float, help="total length in seconds")
    what.add_argument("--fps", default="24", help="frame rate (default 24)")
    what.add_argument("--width", type=int, help="multiple of 32 (default 768; 128 with --demo)")
    what.add_argument("--height", type=int, help="multiple of 32 (default 512; 96 with --demo, 128 with --demo --two-stage)")
    what.add_argument("--clip-frames", type=int, default=121, help="frames per chunk, 8k+1 (default 121)")
    what.add_argument("--tail-frames", type=int, default=25, help="frames handed from chunk to chunk, 8k+1 (default 25)")
    what.add_argument("--max-chunks", type=int, default=DEFAULT_MAX_CHUNKS)
    how = render.add_argument_group("sampling and chaining")
    how.add_argument("--steps", type=int, help="full-model schedule with this many steps (default: the distilled 8 steps)")
    how.add_argument("--guidance", type=float, help="guidance scale (default: none, as distilled models use)")
    how.add_argument("--handoff", choices=HANDOFF_MODES, default="reencode", help="tail handoff: re-encode decoded frames (default) or carry latents")
    how.add_argument("--anchor-continuations", type=float, default=0.0, help="soft anchor of --image on every continuation, 0..1 (default 0: off)")
    how.add_argument("--two-stage", action="store_true", help="render at half size, upsample x2 in latent space, refine at full size")
    how.add_argument("--crossfade", action="store_true", help="each continuation delivers the overlap, its head crossfaded from the tail into its own frames")
    how.add_argument("--drift", type=float, default=0.0, help="pull chunk latent statistics toward the first chunk's, 0..1 (0.1-0.3 for long runs)")
    out = render.add_argument_group("output")
    out.add_argument("--out", type=Path, required=True, help="the MP4 to write")
    out.add_argument("--run-dir", type=Path, help="where finished chunks are kept for resuming (default: <out>.ltx2run)")
    out.add_argument("--keep-partial", action="store_true", help="on failure or cancel, keep <name>.partial.mp4 up to the last finished chunk")
    out.add_argument("--keep-run", action="store_true", help="keep the run directory after success (to re-render edited chunks only)")
    out.add_argument("--crf", type=int, default=18, help="H.264 quality (0 = lossless, 18 default)")

    schema = commands.add_parser("schema", help="print the JSON Schema of schedule files")
    schema.add_argument("--indent", type=int, default=2)
    return parser


def _load_schedule(path: Path) -> ChunkSchedule:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ScheduleError([("--schedule", f"cannot read {path}: {e.strerror}")]) from None
    return ChunkSchedule.parse(text)


def _plan_from_args(args: argparse.Namespace) -> ChainPlan:
    return make_plan(
        fps=args.fps,
        clip_frames=args.clip_frames,
        tail_frames=args.tail_frames,
        total_frames=args.frames,
        seconds=args.seconds,
        max_chunks=args.max_chunks,
        crossfade=args.crossfade,
    )


def _plan(args: argparse.Namespace) -> int:
    plan = _plan_from_args(args)
    schedule = _load_schedule(args.schedule) if args.schedule else None
    data, text = plan_report(plan, schedule)
    print(json.dumps(data, indent=2) if args.json else text)
    return 0


def _schedule_for_render(args: argparse.Namespace) -> ChunkSchedule:
    data = json.loads(ChunkSchedule.parse(_load_schedule(args.schedule)).to_json()) if args.schedule else {}
    if args.prompt is not None:
        data["prompt"] = args.prompt
    if args.negative_prompt is not None:
        data["negative_prompt"] = args.negative_prompt
    if args.seed is not None:
        data["seed"] = args.seed
    if args.guidance is not None:
        data["guidance"] = args.guidance
    if args.image is not None:
        data["anchors"] = [{"chunk": 0, "position": "first", "image": str(args.image)}, *data.get("anchors", [])]
    return ChunkSchedule.parse(data)


def _split(spec: str, sep: str, default: str, field: str) -> tuple[str, str]:
    head, _, tail = spec.rpartition(sep) if sep in spec else (spec, "", default)
    if not head or not tail:
        raise InputError([(field, f"{spec!r}: expected {'NAME=FILE' if sep == '=' else 'FILE[:STRENGTH]'}")])
    return head, tail


def _render(args: argparse.Namespace) -> int:
    import shutil

    from .chain.progress import ProgressTracker
    from .host import StandaloneHost
    from .pipeline.models import demo_models, load_models
    from .pipeline.run import render_chain
    from .pipeline.settings import RenderSettings, full_schedule

    if args.demo == bool(args.checkpoint):
        raise InputError([("--checkpoint", "give --checkpoint and --gemma for the real model, or --demo for the built-in tiny one")])
    if args.checkpoint and not args.gemma:
        raise InputError([("--gemma", "the LTX checkpoint needs the Gemma 3 text encoder: a model folder or a .safetensors file")])
    plan = _plan_from_args(args)
    schedule = _schedule_for_render(args)
    settings = RenderSettings(
        width=args.width or (128 if args.demo else 768),
        height=args.height or ((128 if args.two_stage else 96) if args.demo else 512),
        sigmas=full_schedule(args.steps) if args.steps else RenderSettings.sigmas,
        handoff=args.handoff,
        drift=args.drift,
        two_stage=args.two_stage,
        anchor_continuations=args.anchor_continuations,
    )
    if args.demo:
        print("DEMO: a tiny built-in model with random weights; the picture and the sound are noise.", file=sys.stderr)
        models = demo_models(args.device or "cpu")
    else:
        fused = tuple((path, float(strength)) for path, strength in (_split(spec, ":", "1.0", "--fused-lora") for spec in args.fused_lora))
        models = load_models(args.checkpoint, args.gemma, tokenizer=args.tokenizer, device=args.device, fused_loras=fused, spatial_upsampler=args.upsampler)
    for spec in args.lora:
        name, path = _split(spec, "=", "", "--lora")
        models.add_lora(name, path, 0.0)
    print(plan.table(), file=sys.stderr)
    for warning in schedule.check(plan):
        print(f"warning: {warning}", file=sys.stderr)

    track = ProgressTracker()

    def show(event) -> None:
        info = track(event)
        if event.name in ("chunk_done", "done", "error"):
            eta = f", ETA {info['eta_seconds']:.0f} s" if info["eta_seconds"] is not None and event.name == "chunk_done" else ""
            detail = {"chunk_done": f"chunk {getattr(event, 'chunk', 0) + 1}/{getattr(event, 'chunks', 0)} done{' (resumed)' if getattr(event, 'resumed', False) else ''}{eta}",
                      "done": f"done in {getattr(event, 'seconds', 0):.1f} s", "error": f"stopped: {getattr(event, 'message', '')}"}[event.name]
            print(detail, file=sys.stderr)

    run_dir = args.run_dir or args.out.with_name(args.out.name + ".ltx2run")
    host = StandaloneHost(models.device, listeners=[show])
    try:
        render_chain(models, settings, plan, schedule, out_path=args.out, keep_partial=args.keep_partial, run_dir=run_dir, host=host, crf=args.crf)
    except KeyboardInterrupt:
        print(f"interrupted: run the same command again to resume from {run_dir}", file=sys.stderr)
        return 130
    if not args.keep_run:
        shutil.rmtree(run_dir, ignore_errors=True)
    print(args.out)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "plan":
            return _plan(args)
        if args.command == "render":
            return _render(args)
        print(json.dumps(ChunkSchedule.json_schema(), indent=args.indent))
        return 0
    except InputError as e:
        for field, message in e.problems:
            print(f"error: {field}: {message}", file=sys.stderr)
        return 2
