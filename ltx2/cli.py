"""``python -m ltx2``: the engine from the command line.

    python -m ltx2 plan --seconds 20 --fps 24 --clip-frames 121 --tail-frames 25 [--schedule s.json] [--json]
    python -m ltx2 schema
    python -m ltx2 seams VIDEO.mp4 [--plan plan.json | --chunk-frames C --tail-frames T] [--json] [--plot out.png]

Bad input exits with status 2 and one message per problem, naming the field.
"""

from __future__ import annotations

import argparse
import json
import sys
from fractions import Fraction
from pathlib import Path

from .chain.plan import DEFAULT_MAX_CHUNKS, ChainPlan, make_plan
from .chain.report import plan_report
from .chain.schedule import ChunkSchedule, ScheduleError
from .errors import InputError
from .loading.transformer import WEIGHT_MODES
from .memory.residency import OFFLOAD_MODES
from .pipeline.settings import HANDOFF_MODES, SAMPLERS
from .seams.source import DEFAULT_MAX_SIDE


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
    _model_file_args(source)
    source.add_argument("--tokenizer", type=Path, help="Gemma tokenizer (folder, tokenizer.json or tokenizer.model) for a single-file Gemma")
    source.add_argument("--fused-lora", action="append", default=[], metavar="FILE[:STRENGTH]", help="merge a LoRA at load (e.g. the distilled LoRA)")
    source.add_argument("--lora", action="append", default=[], metavar="NAME=FILE", help="attach a runtime LoRA that schedules ramp by NAME")
    source.add_argument("--upsampler", type=Path, help="spatial x2 latent upsampler file (for --two-stage)")
    source.add_argument("--device", help="cuda, cpu, ... (default: cuda when available)")
    _memory_args(source)
    source.add_argument("--offload", choices=("auto", *OFFLOAD_MODES), default="auto",
                        help="what stays on the device: none (everything), model (only what each phase runs), blocks (model, and the DiT and "
                        "Gemma blocks streamed); auto (default) picks the fastest that fits --vram")  # fmt: skip
    source.add_argument("--blocks", type=int, help="with --offload blocks: blocks kept on the device (default: the most that fit)")
    source.add_argument("--low-ram", action="store_true", help="free offloaded weights and re-read them from the files instead of keeping a CPU copy")
    source.add_argument("--fp8-matmul", action="store_true", help="fp8 layers multiply in fp8 (GPUs with compute capability 8.9+): faster, not bit-exact")
    source.add_argument("--verbose", action="store_true", help="print what is on the device in each phase (the residency ledger)")
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
    how.add_argument("--sampler", choices=SAMPLERS, default="auto",
                     help="denoise step: auto (default: what the reference uses for the model: ancestral Euler on LTX-2.5's distilled first stage, "
                     "else Euler), euler, or ancestral")  # fmt: skip
    how.add_argument("--handoff", choices=HANDOFF_MODES, default="reencode", help="tail handoff: re-encode decoded frames (default) or carry latents")
    how.add_argument("--anchor-continuations", type=float, default=0.0, help="soft anchor of --image on every continuation, 0..1 (default 0: off)")
    how.add_argument("--two-stage", action="store_true", help="render at half size, upsample x2 in latent space, refine at full size")
    how.add_argument("--crossfade", action="store_true", help="each continuation delivers the overlap, its head crossfaded from the tail into its own frames")
    how.add_argument("--tile", default="auto", metavar="auto|none|PIXELS[:FRAMES]",
                     help="VAE tiling of decode and tail encode: auto (default: sized to the device's free memory), none (whole chunks), "
                     "or a tile size in pixels with an optional temporal tile in frames, e.g. 512:48")  # fmt: skip
    how.add_argument("--drift", type=float, default=0.0, help="pull chunk latent statistics toward the first chunk's, 0..1 (0.1-0.3 for long runs)")
    out = render.add_argument_group("output")
    out.add_argument("--out", type=Path, required=True, help="the MP4 to write")
    out.add_argument("--run-dir", type=Path, help="where finished chunks are kept for resuming (default: <out>.ltx2run)")
    out.add_argument("--keep-partial", action="store_true", help="on failure or cancel, keep <name>.partial.mp4 up to the last finished chunk")
    out.add_argument("--keep-run", action="store_true", help="keep the run directory after success (to re-render edited chunks only)")
    out.add_argument("--crf", type=int, default=18, help="H.264 quality (0 = lossless, 18 default)")

    memory = commands.add_parser("memory", help="plan the memory of a render: per phase and offload mode, and which mode fits")
    _model_file_args(memory, required=True)
    memory.add_argument("--upsampler", type=Path, help="spatial x2 latent upsampler file (two-stage renders)")
    memory.add_argument("--width", type=int, default=768)
    memory.add_argument("--height", type=int, default=512)
    memory.add_argument("--frames", type=int, default=121, help="frames per chunk (default 121)")
    memory.add_argument("--tail-frames", type=int, default=25)
    memory.add_argument("--device", help="the device to plan for (default: cuda when available); --vram auto reads its free memory")
    _memory_args(memory)
    memory.add_argument("--load", action="store_true", help="also load the files as a render would and report the measured peak")
    memory.add_argument("--json", action="store_true")

    seams = commands.add_parser("seams", help="measure the seams and drift of a chained video (per boundary, per chunk, VDE)")
    seams.add_argument("video", type=Path, metavar="VIDEO", help="the video to measure (e.g. a chain's MP4)")
    seams.add_argument("--plan", type=Path, help="the chain's plan JSON (the Chain Sampler's plan_json, or `plan --json`): where the boundaries are")
    seams.add_argument("--chunk-frames", type=int, help="without --plan: frames per chunk as rendered (default 121)")
    seams.add_argument("--tail-frames", type=int, help="without --plan: tail frames as rendered (default 25)")
    seams.add_argument("--crossfade", action="store_true", help="without --plan: the chain was rendered with --crossfade")
    seams.add_argument("--features", type=Path, metavar="FOLDER", help="a local vision model folder (CLIP, DINOv2...) for feature consistency; never downloaded")
    seams.add_argument("--max-side", type=int, default=DEFAULT_MAX_SIDE, help=f"measure frames downscaled to this many pixels on the longer side (default {DEFAULT_MAX_SIDE})")
    seams.add_argument("--plot", type=Path, metavar="PNG", help="also draw the per-frame signals with the boundaries marked to this PNG")
    seams.add_argument("--json", action="store_true", help="print the report as one JSON object")

    schema = commands.add_parser("schema", help="print the JSON Schema of schedule files")
    schema.add_argument("--indent", type=int, default=2)
    return parser


def _model_file_args(group, required: bool = False) -> None:
    group.add_argument("--checkpoint", type=Path, required=required,
                       help="official LTX-2 / LTX-2.3 single-file .safetensors, an LTX-2.5 transformer file (with --vae and --audio-vae), "
                       "or a folder laid out as the official release (diffusion_models/, text_encoders/, vae/)")  # fmt: skip
    group.add_argument("--gemma", "--text-encoder", dest="gemma", type=Path,
                       help="the text encoder: Gemma 3 12B (a model folder, or ComfyUI's single .safetensors) for LTX-2 / 2.3; "
                       "the LTX-2.5 text-encoder file (gemma4-12b-with-proj-ltx-2.5*.safetensors) for LTX-2.5")  # fmt: skip
    group.add_argument("--vae", type=Path, help="LTX-2.5: the video VAE file (vae/ltx-2.5-video-vae-conv*.safetensors)")
    group.add_argument("--audio-vae", type=Path, help="LTX-2.5: the audio VAE + vocoder file (vae/ltx-2.5-audio-vae*.safetensors)")


def _model_set(args: argparse.Namespace):
    """The model's files from --checkpoint / --gemma / --vae / --audio-vae (checked from their headers)."""
    from .loading.model_set import ModelSet

    files = ModelSet.resolve(args.checkpoint, args.gemma, vae=args.vae, audio_vae=args.audio_vae)
    if files.text_encoder is None:
        raise InputError([("--gemma", "the model needs its text encoder: Gemma 3 12B (a model folder or a .safetensors file) for LTX-2 / 2.3, the LTX-2.5 text-encoder file for LTX-2.5")])
    return files


def _memory_args(group) -> None:
    group.add_argument("--weights", choices=WEIGHT_MODES, default="auto",
                       help="auto: as the file (fp8 stays fp8); fp8: quantise block Linears to fp8 at load (small cards); full: all in the compute dtype")  # fmt: skip
    group.add_argument("--vram", default="auto", help="memory budget in GiB for the offload choice, or auto (the device's free memory)")


def _budget(vram: str, device) -> int:
    from .memory.planner import GiB, free_memory

    if vram == "auto":
        return free_memory(device)
    try:
        value = float(vram)
    except ValueError:
        raise InputError([("--vram", f"expected a number of GiB or auto, got {vram!r}")]) from None
    if value <= 0:
        raise InputError([("--vram", f"must be more than 0 GiB, got {vram}")])
    return int(value * GiB)


def _plans(args: argparse.Namespace, device, width: int, height: int, frames: int, tail_frames: int):
    import torch

    from .memory.planner import Geometry, plan_files

    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    # the DiT runs the passes guidance needs as one batch: CFG 2; the full models' reference guidance up to 4
    guidance, steps = getattr(args, "guidance", None), getattr(args, "steps", None)
    passes = 2 if guidance not in (None, 1.0) else (4 if steps and guidance is None else 1)
    geometry = Geometry(width, height, frames, tail_frames, passes, fps=Fraction(getattr(args, "fps", "24")))
    blocks = getattr(args, "blocks", None)
    if blocks is not None and blocks < 1:
        raise InputError([("--blocks", f"must be at least 1, got {blocks}")])
    files = _model_set(args) if args.gemma or args.checkpoint.is_dir() else args.checkpoint  # no Gemma given: Gemma 3 12B as shipped
    return plan_files(files, args.gemma, geometry, weights=args.weights, dtype=dtype, device_type=device.type, upsampler=args.upsampler, blocks=blocks)


def _choose(plans, budget: int, mode: str = "auto", blocks: int | None = None):
    """The plan for ``mode`` (``auto``: the fastest that fits); one error naming what would fit otherwise."""
    from .memory.planner import GiB, choose

    candidates = [p for p in plans if mode in ("auto", p.mode) and (blocks is None or p.mode != "blocks" or p.blocks == blocks)]
    try:
        return choose(candidates, budget)
    except ValueError as e:
        fits = [p for p in plans if p.peak <= budget]
        hint = f"; --offload {fits[0].mode}{f' --blocks {fits[0].blocks}' if fits[0].mode == 'blocks' else ''} fits ({fits[0].peak / GiB:.1f} GiB)" if fits else ""
        force = "" if mode == "auto" else " (a larger --vram overrides the estimate)"
        raise InputError([("--vram" if mode == "auto" else "--offload", str(e) + hint + force)]) from None


def _memory(args: argparse.Namespace) -> int:
    import torch

    from .host import default_device
    from .memory.planner import table

    device = torch.device(args.device) if args.device else default_device()
    budget = _budget(args.vram, device)
    plans = _plans(args, device, args.width, args.height, args.frames, args.tail_frames)
    chosen = None
    try:
        chosen = _choose(plans, budget)
    except InputError as e:
        print(f"note: {e.problems[0][1]}", file=sys.stderr)
    data = {"budget_bytes": budget, "device": str(device), "chosen": chosen.to_dict() if chosen else None, "modes": [p.to_dict() for p in plans]}
    if args.load:
        data["measured"] = _measure_load(args, device, chosen or plans[-1])
    if args.json:
        print(json.dumps(data, indent=2))
    else:
        print(table(plans, chosen))
        if args.load:
            print(json.dumps(data["measured"], indent=2))
    return 0


def _measure_load(args: argparse.Namespace, device, plan) -> dict:
    """Load the files as a render in ``plan``'s mode would, and report the measured peak next to the plan."""
    import torch

    from .pipeline.models import load_models

    def peak() -> int:
        if device.type == "cuda":
            return torch.cuda.max_memory_allocated(device)
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM"))

    files = _model_set(args)
    models = load_models(files, device=device, weights=args.weights, offload=plan.mode, blocks=plan.blocks or 8)
    weights = sum(t.nbytes for m in models.modules().values() for t in [*m.parameters(), *m.buffers()] if not t.is_meta)
    file_bytes = sum(p.stat().st_size for p in [*files.files(), *([files.text_encoder] if files.text_encoder.is_file() else [])])
    return {"mode": plan.mode, "measured_peak_bytes": peak(), "loaded_weight_bytes": weights, "file_bytes": file_bytes, "planned_peak_bytes": plan.peak}


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


def _tiling(spec: str):
    """``--tile``: ``auto``, ``none`` or PIXELS[:FRAMES] (standard overlaps; FRAMES default 80)."""
    from .memory.activations import MIN_TILE_FRAMES, MIN_TILE_PIXELS, fixed_tiling

    if spec in ("auto", "none"):
        return None if spec == "none" else "auto"
    pixels, _, frames = spec.partition(":")
    try:
        pixels, frames = int(pixels), int(frames or 0)
    except ValueError:
        raise InputError([("--tile", f"expected auto, none or PIXELS[:FRAMES] (e.g. 512:48), got {spec!r}")]) from None
    if pixels < MIN_TILE_PIXELS or 0 < frames < MIN_TILE_FRAMES:
        raise InputError([("--tile", f"PIXELS a multiple of 32 of at least {MIN_TILE_PIXELS}, FRAMES a multiple of 8 of at least {MIN_TILE_FRAMES}; got {spec!r}")])
    return fixed_tiling(pixels, frames)


def _split(spec: str, sep: str, default: str, field: str) -> tuple[str, str]:
    head, _, tail = spec.rpartition(sep) if sep in spec else (spec, "", default)
    if not head or not tail:
        raise InputError([(field, f"{spec!r}: expected {'NAME=FILE' if sep == '=' else 'FILE[:STRENGTH]'}")])
    return head, tail


def _render(args: argparse.Namespace) -> int:
    import shutil

    import torch

    from .chain.progress import ProgressTracker
    from .host import StandaloneHost, default_device
    from .model.fp8_linear import set_fp8_matmul
    from .pipeline.models import demo_models, load_models
    from .pipeline.run import render_chain
    from .pipeline.settings import RenderSettings, full_schedule

    if args.demo == bool(args.checkpoint):
        raise InputError([("--checkpoint", "give --checkpoint and --gemma for the real model, or --demo for the built-in tiny one")])
    files = None if args.demo else _model_set(args)
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
        tile=_tiling(args.tile),
        sampler=args.sampler,
    )
    if args.demo:
        print("DEMO: a tiny built-in model with random weights; the picture and the sound are noise.", file=sys.stderr)
        models = demo_models(args.device or "cpu")
        if args.offload not in ("auto", "none"):
            models.offload(args.offload, blocks=args.blocks or 8, on_phase=(lambda record: print(f"  {record}", file=sys.stderr)) if args.verbose else None)
    else:
        fused = tuple((path, float(strength)) for path, strength in (_split(spec, ":", "1.0", "--fused-lora") for spec in args.fused_lora))
        device = torch.device(args.device) if args.device else default_device()
        budget = _budget(args.vram, device)
        plans = _plans(args, device, settings.width, settings.height, args.clip_frames, args.tail_frames)
        plan_memory = _choose(plans, budget, args.offload, args.blocks)
        if args.offload == "auto" or args.verbose:
            print(f"offload: {plan_memory.label}, planned peak {plan_memory.peak / 2**30:.1f} GiB", file=sys.stderr)
        models = load_models(
            files, tokenizer=args.tokenizer, device=device, fused_loras=fused, spatial_upsampler=args.upsampler,
            weights=args.weights, offload=plan_memory.mode, blocks=args.blocks or plan_memory.blocks or 8, low_ram=args.low_ram,
            on_phase=(lambda record: print(f"  {record}", file=sys.stderr)) if args.verbose else None,
        )  # fmt: skip
        if args.fp8_matmul:
            set_fp8_matmul(models.transformer, True)
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


def _seams(args: argparse.Namespace) -> int:
    from .seams import measure_seams

    plan = None
    if args.plan is not None:
        try:
            plan = args.plan.read_text(encoding="utf-8")
        except OSError as e:
            raise InputError([("--plan", f"cannot read {args.plan}: {e.strerror}")]) from None
    report = measure_seams(args.video, plan=plan, chunk_frames=args.chunk_frames, tail_frames=args.tail_frames, crossfade=args.crossfade,
                           feature_model=args.features, max_side=args.max_side)  # fmt: skip
    print(json.dumps(report.to_dict(), indent=2) if args.json else report.text(), flush=True)
    if args.plot is not None:
        from .seams.plot import save_plot

        save_plot(report, args.plot)
        print(f"plot: {args.plot}", file=sys.stderr)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "plan":
            return _plan(args)
        if args.command == "render":
            return _render(args)
        if args.command == "memory":
            return _memory(args)
        if args.command == "seams":
            return _seams(args)
        print(json.dumps(ChunkSchedule.json_schema(), indent=args.indent))
        return 0
    except InputError as e:
        for field, message in e.problems:
            print(f"error: {field}: {message}", file=sys.stderr)
        return 2
