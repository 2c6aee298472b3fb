"""``python -m ltx2``: the engine from the command line.

    python -m ltx2 plan --seconds 20 --fps 24 --clip-frames 121 --tail-frames 25 [--schedule s.json] [--json]
    python -m ltx2 render (--demo | --checkpoint FILE --gemma PATH) --seconds 20 --prompt "..." --out video.mp4
    python -m ltx2 schema
    python -m ltx2 seams VIDEO.mp4 [--plan plan.json | --chunk-frames C --tail-frames T] [--json] [--plot out.png]

Bad input exits with status 2 and one ``error:`` line per problem, naming the flag; a failure while running exits
with status 1 and one line. ``--debug`` also prints the traceback.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import sys
import traceback
from functools import partial
from pathlib import Path

from .chain.plan import DEFAULT_MAX_CHUNKS, ChainPlan, as_fps, make_plan
from .chain.report import plan_report
from .chain.schedule import ChunkSchedule, ScheduleError
from .cli_checks import device_from_flag, file_problems, gather, output_problems
from .cli_media import add_media_args, flagged_media_problem, media_defaults, media_guides
from .errors import InputError
from .options import ATTENTION_BACKENDS, HANDOFF_MODES, OFFLOAD_MODES, SAMPLERS, SEAMS_MAX_SIDE, WEIGHT_MODES

MAX_SIDE = 8192  # largest --width / --height, beyond any LTX-2 render (the memory planner bounds real models further)
MAX_STEPS = 1000
MAX_CRF = 51  # H.264 (8-bit)
MAX_INDENT = 16

# engine field names -> the flags that set them (messages name what the user typed)
_FLAGS = {
    "total_frames": "--frames", "seconds": "--seconds", "fps": "--fps", "clip_frames": "--clip-frames", "tail_frames": "--tail-frames",
    "max_chunks": "--max-chunks", "width": "--width", "height": "--height", "handoff": "--handoff", "sampler": "--sampler",
    "anchor_continuations": "--anchor-continuations", "drift": "--drift", "tile": "--tile", "sigmas": "--steps", "seed": "--seed",
    "guidance": "--guidance", "prompt": "--prompt", "negative_prompt": "--negative-prompt", "denoise": "--denoise", "audio_strength": "--audio-strength",
    "audio_end": "--audio-end", "attention": "--attention",
}  # fmt: skip
_FIELD_WORDS = re.compile(r"\b(" + "|".join(k for k in _FLAGS if "_" in k) + r")\b")


class _Parser(argparse.ArgumentParser):
    """argparse, with its complaints as one ``error:`` line (exit status 2) like every other input error."""

    def error(self, message: str):
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def _path(text: str) -> Path:
    if not text.strip():
        raise argparse.ArgumentTypeError("an empty path")
    return Path(text)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m ltx2", description="LTX-2 Chain: long LTX-2 videos, chunk by chunk.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    debug = _Parser(add_help=False)
    debug.add_argument("--debug", action="store_true", help="on a failure, also print the traceback")

    def command(name: str, help: str) -> argparse.ArgumentParser:
        return commands.add_parser(name, help=help, parents=[debug])

    plan = command("plan", "print how a chain splits into chunks (a dry run)")
    length = plan.add_mutually_exclusive_group(required=True)
    length.add_argument("--frames", type=int, help="total output frames")
    length.add_argument("--seconds", type=float, help="total output length in seconds (rounded to a frame)")
    plan.add_argument("--fps", default="24", help="frame rate, e.g. 24, 25 or 24000/1001 (default 24)")
    plan.add_argument("--clip-frames", type=int, default=121, help="frames rendered per chunk, 8k+1 (default 121)")
    plan.add_argument("--tail-frames", type=int, default=25, help="frames handed from chunk to chunk, 8k+1 (default 25)")
    plan.add_argument("--max-chunks", type=int, default=DEFAULT_MAX_CHUNKS, help=f"refuse plans with more chunks (default {DEFAULT_MAX_CHUNKS})")
    plan.add_argument("--schedule", type=_path, help="a schedule JSON file: also show each chunk's resolved parameters")
    plan.add_argument("--crossfade", action="store_true", help="the receiving chunk delivers each overlap, crossfaded from the tail")
    plan.add_argument("--json", action="store_true", help="print the plan as JSON")

    render = command("render", "render a video (chained automatically when longer than one clip)")
    source = render.add_argument_group("model")
    source.add_argument("--demo", action="store_true", help="a tiny random built-in model: a pipeline demo, the picture and sound are noise")
    _model_file_args(source)
    source.add_argument("--tokenizer", type=_path, help="Gemma tokenizer (folder, tokenizer.json or tokenizer.model) for a single-file Gemma")
    source.add_argument("--fused-lora", action="append", default=[], metavar="FILE[:STRENGTH]", help="merge a LoRA at load (e.g. the distilled LoRA)")
    source.add_argument("--lora", action="append", default=[], metavar="NAME=FILE", help="attach a runtime LoRA that schedules ramp by NAME")
    source.add_argument("--upsampler", type=_path, help="spatial x2 latent upsampler file (for --two-stage)")
    source.add_argument("--device", help="cuda, cpu, ... (default: cuda when available)")
    _memory_args(source)
    source.add_argument("--offload", choices=("auto", *OFFLOAD_MODES), default="auto",
                        help="what stays on the device: none (everything), model (only what each phase runs), blocks (model, and the DiT and "
                        "Gemma blocks streamed); auto (default) picks the fastest that fits --vram")  # fmt: skip
    source.add_argument("--blocks", type=int, help="with --offload blocks: blocks kept on the device (default: the most that fit)")
    source.add_argument("--low-ram", action="store_true", help="free offloaded weights and re-read them from the files instead of keeping a CPU copy")
    source.add_argument("--fp8-matmul", action="store_true", help="fp8 layers multiply in fp8 (GPUs with compute capability 8.9+): faster, not bit-exact")
    source.add_argument("--compile", action="store_true", help="torch.compile the transformer blocks (the first steps compile, later ones run faster; within bf16 tolerance of eager)")
    source.add_argument("--attention", choices=ATTENTION_BACKENDS, default="sdpa",
                        help="attention kernel: sdpa (default), or sageattention / flash-attn when installed (CUDA, bf16/fp16)")
    source.add_argument("--verbose", action="store_true", help="print what is on the device in each phase (the residency ledger)")
    what = render.add_argument_group("video")
    what.add_argument("--prompt", help="the prompt (overrides the schedule's opening prompt)")
    what.add_argument("--negative-prompt", help="negative prompt (used with --guidance)")
    what.add_argument("--image", type=_path, help="image for the first frame (image-to-video)")
    what.add_argument("--schedule", type=_path, help="schedule JSON: prompt keyframes, seeds, LoRA ramps, anchors (python -m ltx2 schema)")
    what.add_argument("--seed", type=int, help="seed (overrides the schedule's)")
    length = what.add_mutually_exclusive_group()
    length.add_argument("--frames", type=int, help="total output frames (default with --audio or --video: as long as they last)")
    length.add_argument("--seconds", type=float, help="total length in seconds")
    what.add_argument("--fps", help="frame rate (default 24, or the --video's)")
    what.add_argument("--width", type=int, help=f"multiple of 32 up to {MAX_SIDE} (default 768; 128 with --demo)")
    what.add_argument("--height", type=int, help=f"multiple of 32 up to {MAX_SIDE} (default 512; 96 with --demo, 128 with --demo --two-stage)")
    what.add_argument("--clip-frames", type=int, default=121, help="frames per chunk, 8k+1 (default 121)")
    what.add_argument("--tail-frames", type=int, default=25, help="frames handed from chunk to chunk, 8k+1 (default 25)")
    what.add_argument("--max-chunks", type=int, default=DEFAULT_MAX_CHUNKS, help=f"refuse plans with more chunks (default {DEFAULT_MAX_CHUNKS})")
    add_media_args(render.add_argument_group("media to follow"), _path)
    how = render.add_argument_group("sampling and chaining")
    how.add_argument("--steps", type=int, help=f"full-model schedule with this many steps, 1 to {MAX_STEPS} (default: the distilled 8 steps)")
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
    out.add_argument("--out", type=_path, required=True, help="the MP4 to write")
    out.add_argument("--run-dir", type=_path, help="where finished chunks are kept for resuming (default: <out>.ltx2run)")
    out.add_argument("--keep-partial", action="store_true", help="on failure or cancel, keep <name>.partial.mp4 up to the last finished chunk")
    out.add_argument("--keep-run", action="store_true", help="keep the run directory after success (to re-render edited chunks only)")
    out.add_argument("--crf", type=int, default=18, help=f"H.264 quality, 0 (lossless) to {MAX_CRF} (default 18)")

    memory = command("memory", "plan the memory of a render: per phase and offload mode, and which mode fits")
    _model_file_args(memory, required=True)
    memory.add_argument("--upsampler", type=_path, help="spatial x2 latent upsampler file (two-stage renders)")
    memory.add_argument("--width", type=int, default=768, help="video width (default 768)")
    memory.add_argument("--height", type=int, default=512, help="video height (default 512)")
    memory.add_argument("--frames", type=int, default=121, help="frames per chunk (default 121)")
    memory.add_argument("--tail-frames", type=int, help="frames handed from chunk to chunk (default 25, or the longest tail shorter than --frames)")
    memory.add_argument("--device", help="the device to plan for (default: cuda when available); --vram auto reads its free memory")
    _memory_args(memory)
    memory.add_argument("--load", action="store_true", help="also load the files as a render would and report the measured peak")
    memory.add_argument("--json", action="store_true", help="print the plans as JSON")

    seams = command("seams", "measure the seams and drift of a chained video (per boundary, per chunk, VDE)")
    seams.add_argument("video", type=_path, metavar="VIDEO", help="the video to measure (e.g. a chain's MP4)")
    seams.add_argument("--plan", type=_path, help="the chain's plan JSON (the Chain Sampler's plan_json, or `plan --json`): where the boundaries are")
    seams.add_argument("--chunk-frames", type=int, help="without --plan: frames per chunk as rendered (default 121)")
    seams.add_argument("--tail-frames", type=int, help="without --plan: tail frames as rendered (default 25)")
    seams.add_argument("--crossfade", action="store_true", help="without --plan: the chain was rendered with --crossfade")
    seams.add_argument("--features", type=_path, metavar="FOLDER", help="a local vision model folder (CLIP, DINOv2...) for feature consistency; never downloaded")
    seams.add_argument("--max-side", type=int, default=SEAMS_MAX_SIDE, help=f"measure frames downscaled to this many pixels on the longer side (default {SEAMS_MAX_SIDE})")
    seams.add_argument("--plot", type=_path, metavar="PNG", help="also draw the per-frame signals with the boundaries marked to this PNG")
    seams.add_argument("--json", action="store_true", help="print the report as one JSON object")

    schema = command("schema", "print the JSON Schema of schedule files")
    schema.add_argument("--indent", type=int, default=2, help=f"spaces per level of the JSON, 0 to {MAX_INDENT} (default 2)")
    return parser


def _model_file_args(group, required: bool = False) -> None:
    group.add_argument("--checkpoint", type=_path, required=required,
                       help="official LTX-2 / LTX-2.3 single-file .safetensors, an LTX-2.5 transformer file (with --vae and --audio-vae), "
                       "or a folder laid out as the official release (diffusion_models/, text_encoders/, vae/)")  # fmt: skip
    group.add_argument("--gemma", "--text-encoder", dest="gemma", type=_path,
                       help="the text encoder: Gemma 3 12B (a model folder, or ComfyUI's single .safetensors) for LTX-2 / 2.3; "
                       "the LTX-2.5 text-encoder file (gemma4-12b-with-proj-ltx-2.5*.safetensors) for LTX-2.5")  # fmt: skip
    group.add_argument("--vae", type=_path, help="LTX-2.5: the video VAE file (vae/ltx-2.5-video-vae-conv*.safetensors)")
    group.add_argument("--audio-vae", type=_path, help="LTX-2.5: the audio VAE + vocoder file (vae/ltx-2.5-audio-vae*.safetensors)")


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
    if not (math.isfinite(value) and value > 0):
        raise InputError([("--vram", f"must be more than 0 GiB, got {vram}")])
    return int(value * GiB)


def _plans(args: argparse.Namespace, device, width: int, height: int, frames: int, tail_frames: int, files=None):
    """The planner's modes for these files (``files``: the model set when the caller has resolved it)."""
    import torch

    from .memory.planner import Geometry, plan_files

    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    # the DiT passes a guided step runs: CFG 2; the full models' reference guidance 4
    guidance, steps = getattr(args, "guidance", None), getattr(args, "steps", None)
    passes = 2 if guidance not in (None, 1.0) else (4 if steps and guidance is None else 1)
    geometry = Geometry(width, height, frames, tail_frames, passes, fps=as_fps(getattr(args, "fps", "24")))
    blocks = getattr(args, "blocks", None)
    if blocks is not None and blocks < 1:
        raise InputError([("--blocks", f"must be at least 1, got {blocks}")])
    if files is None:
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


def _memory_size_problems(args: argparse.Namespace) -> list[tuple[str, str]]:
    """``memory``'s sizes, held to the limits of ``render`` in its words (here --frames is a chunk's length)."""
    from .pipeline.settings import RenderSettings

    problems = [(flag, f"must be from 1 to {MAX_SIDE}, got {value}") for flag, value in (("--width", args.width), ("--height", args.height)) if not 1 <= value <= MAX_SIDE]
    grid: list[tuple[str, str]] = []  # multiples of 32, for the sides in range
    gather(grid, lambda: RenderSettings(width=args.width, height=args.height))
    problems += [(f"--{field}", message) for field, message in grid if f"--{field}" not in dict(problems)]
    chunk: list[tuple[str, str]] = []
    gather(chunk, lambda: make_plan(fps=24, clip_frames=args.frames, tail_frames=args.tail_frames, total_frames=1))
    flags = {"clip_frames": "--frames", "tail_frames": "--tail-frames"}
    return problems + [(flags[field], message.replace("clip_frames", "--frames")) for field, message in chunk]


def _memory(args: argparse.Namespace) -> int:
    from .memory.planner import table

    if args.tail_frames is None:  # 25, or what a shorter chunk can hand on
        args.tail_frames = min(25, max(1, args.frames - 8))
    problems = file_problems(_model_files(args)) + _memory_size_problems(args)
    if problems:
        raise InputError(problems)
    device = device_from_flag(args.device)
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
    """The --schedule file; its problems name the flag, then the place in the file."""
    try:
        return ChunkSchedule.read(path)
    except ScheduleError as e:
        raise ScheduleError([("--schedule" if field == "schedule" else f"--schedule: {field}", message) for field, message in e.problems]) from None


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
    data = json.loads(_load_schedule(args.schedule).to_json()) if args.schedule else {}
    if args.prompt is not None:
        data["prompt"] = args.prompt
    if args.negative_prompt is not None:
        data["negative_prompt"] = args.negative_prompt
    if args.seed is not None:
        data["seed"] = args.seed
    if args.guidance is not None:
        data["guidance"] = args.guidance
    for name in ("denoise", "audio_strength"):
        if getattr(args, name) is not None:
            data[name] = getattr(args, name)
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


def _fused_lora(spec: str) -> tuple[Path, float]:
    """``--fused-lora FILE[:STRENGTH]`` (a file whose name holds a colon is taken whole)."""
    from .chain.schedule import LORA_SCALE_LIMIT

    if Path(spec).is_file():
        return Path(spec), 1.0
    path, strength = _split(spec, ":", "1.0", "--fused-lora")
    try:
        value = float(strength)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and abs(value) <= LORA_SCALE_LIMIT):
        raise InputError([("--fused-lora", f"{spec!r}: STRENGTH must be a number from {-LORA_SCALE_LIMIT:g} to {LORA_SCALE_LIMIT:g}, e.g. {path}:0.5")])
    return Path(path), value


def _model_files(args: argparse.Namespace) -> list[tuple[str, Path | None, str]]:
    """(flag, path, kind) of the model files given: kind ``file``, or ``any`` for a file or a folder."""
    return [("--checkpoint", args.checkpoint, "any"), ("--gemma", args.gemma, "any"), ("--vae", args.vae, "file"),
            ("--audio-vae", args.audio_vae, "file"), ("--upsampler", args.upsampler, "file")]  # fmt: skip


_DEMO_IGNORES = (("--fused-lora", "fused_lora"), ("--upsampler", "upsampler"), ("--tokenizer", "tokenizer"), ("--gemma", "gemma"),
                 ("--vae", "vae"), ("--audio-vae", "audio_vae"), ("--low-ram", "low_ram"), ("--fp8-matmul", "fp8_matmul"))  # fmt: skip


def _check_render(args: argparse.Namespace):
    """Everything about a render that can be checked before a model loads; one InputError lists every problem."""
    from .pipeline.settings import RenderSettings, full_schedule
    from .pipeline.speed import use_attention

    problems: list[tuple[str, str]] = []
    if args.demo == bool(args.checkpoint):
        problems.append(("--checkpoint", "give --checkpoint and --gemma for the real model, or --demo for the built-in tiny one"))
    if args.demo:
        given = [flag for flag, name in _DEMO_IGNORES if getattr(args, name)] + [f"--{name}" for name in ("weights", "vram") if getattr(args, name) != "auto"]
        problems += [(flag, "has no effect with --demo (the built-in tiny model); leave it out") for flag in given]
    fused = [lora for spec in args.fused_lora for lora in [gather(problems, partial(_fused_lora, spec))] if lora]
    loras = [(name, Path(path)) for spec in args.lora for name, path in [gather(problems, partial(_split, spec, "=", "", "--lora")) or ("", "")] if name]
    device = gather(problems, lambda: device_from_flag(args.device if args.device or not args.demo else "cpu"))
    gather(problems, lambda: use_attention(args.attention, device))
    problems += file_problems([*_model_files(args), ("--tokenizer", args.tokenizer, "any"), ("--image", args.image, "file"),
                                *(("--fused-lora", path, "file") for path, _ in fused), *(("--lora", path, "file") for _, path in loras)])  # fmt: skip
    problems += output_problems(args.out, args.run_dir)
    guides = gather(problems, lambda: media_guides(args))
    sized = guides is not None and gather(problems, lambda: media_defaults(args, guides))  # the fps and length to plan
    for flag, value, lo, hi in (("--width", args.width, 1, MAX_SIDE), ("--height", args.height, 1, MAX_SIDE), ("--steps", args.steps, 1, MAX_STEPS), ("--crf", args.crf, 0, MAX_CRF)):
        if value is not None and not lo <= value <= hi:
            problems.append((flag, f"must be from {lo} to {hi}, got {value}"))
    plan = gather(problems, lambda: _plan_from_args(args)) if sized else None
    schedule = gather(problems, lambda: _schedule_for_render(args))
    if guides is not None and plan is not None and schedule is not None:
        problems += [flagged_media_problem(args, field, message) for field, message in guides.problems(plan, schedule)]
    if schedule is not None:
        given = 1 if args.image else 0  # --image is anchor 0; the file's anchors follow
        problems += [(f"--schedule: anchors[{k - given}]", f"image {a.image!r}: no such file") for k, a in enumerate(schedule.anchors) if k >= given and not Path(a.image).is_file()]
    if schedule is not None and plan is not None and args.anchor_continuations and not any(a.position == "first" for a in schedule.resolve(0, plan).anchors):
        problems.append(("--anchor-continuations", "needs an opening image: give --image (or a first-frame anchor on chunk 0 in --schedule)"))
    settings = None if problems else gather(problems, lambda: RenderSettings(
        width=args.width if args.width is not None else (128 if args.demo else 768),
        height=args.height if args.height is not None else ((128 if args.two_stage else 96) if args.demo else 512),
        sigmas=full_schedule(args.steps) if args.steps else RenderSettings.sigmas, handoff=args.handoff, drift=args.drift,
        two_stage=args.two_stage, anchor_continuations=args.anchor_continuations, tile=_tiling(args.tile), sampler=args.sampler,
    ))  # fmt: skip
    if problems:
        raise InputError(problems)
    return device, plan, schedule, settings, tuple((str(path), strength) for path, strength in fused), loras, guides


def _render(args: argparse.Namespace) -> int:
    import shutil

    from .chain.progress import ProgressLine, ProgressTracker
    from .host import ChainCancelled, StandaloneHost
    from .model.fp8_linear import set_fp8_matmul
    from .pipeline.models import demo_models, load_models
    from .pipeline.run import render_chain
    from .shutdown import stop_on_signals

    device, plan, schedule, settings, fused, loras, guides = _check_render(args)
    if args.demo:
        print("DEMO: a tiny built-in model with random weights; the picture and the sound are noise.", file=sys.stderr)
        models = demo_models(device)
        if args.offload not in ("auto", "none"):
            models.offload(args.offload, blocks=args.blocks or 8, on_phase=(lambda record: print(f"  {record}", file=sys.stderr)) if args.verbose else None)
    else:
        files = _model_set(args)
        budget = _budget(args.vram, device)
        plans = _plans(args, device, settings.width, settings.height, args.clip_frames, args.tail_frames, files)
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
    if args.compile:
        from .model.compile import compile_blocks

        compile_blocks(models.transformer)
        print("compile: the transformer blocks compile during the first denoise steps (again for a new size or guidance); later steps run faster", file=sys.stderr)
    for name, path in loras:
        models.add_lora(name, path, 0.0)
    print(plan.table(), file=sys.stderr)
    for warning in schedule.check(plan):
        print(f"warning: {warning}", file=sys.stderr)

    track, line = ProgressTracker(), ProgressLine(live=sys.stderr.isatty())

    def show(event) -> None:  # per step and per chunk; a failure is reported once, by main()
        text = line(track(event))
        if text is not None:
            sys.stderr.write(text)
            sys.stderr.flush()

    run_dir = args.run_dir or args.out.with_name(args.out.name + ".ltx2run")
    host = StandaloneHost(models.device, listeners=[show])
    with stop_on_signals(host.cancel, lambda note: print(note, file=sys.stderr)) as stop:  # Ctrl-C / SIGTERM: stop at the next step
        try:
            render_chain(models, settings, plan, schedule, out_path=args.out, keep_partial=args.keep_partial, run_dir=run_dir, host=host, crf=args.crf, guides=guides)
        except (KeyboardInterrupt, ChainCancelled):
            kept = f"; the video so far is {args.out.with_name(f'{args.out.stem}.partial{args.out.suffix}')}" if args.keep_partial else ""
            print(f"interrupted: run the same command again to resume from {run_dir}{kept}", file=sys.stderr)
            stop.leave()
            return stop.exit_code
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


def _schema(args: argparse.Namespace) -> int:
    if not 0 <= args.indent <= MAX_INDENT:
        raise InputError([("--indent", f"must be from 0 to {MAX_INDENT}, got {args.indent}")])
    print(json.dumps(ChunkSchedule.json_schema(), indent=args.indent))
    return 0


_COMMANDS = {"plan": _plan, "render": _render, "memory": _memory, "seams": _seams, "schema": _schema}


def _flagged(command: str, field: str, message: str) -> tuple[str, str]:
    """A plan or render problem with the engine's field names replaced by the flags that set them."""
    if command not in ("plan", "render"):
        return field, message
    return _FLAGS.get(field, field), _FIELD_WORDS.sub(lambda m: _FLAGS[m.group(1)], message)


def _fail(debug: bool, status: int, problems: list[tuple[str | None, str]]) -> int:
    """Report the exception being handled: its traceback with --debug, then one ``error:`` line per problem."""
    if debug:
        traceback.print_exc()
    for field, message in problems:
        print(f"error: {field}: " if field else "error: ", " ".join(message.splitlines()), sep="", file=sys.stderr)
    return status


def main(argv: list[str] | None = None) -> int:
    command, debug = None, False
    try:
        args = _parser().parse_args(argv)
        command, debug = args.command, args.debug
        status = _COMMANDS[command](args)
        sys.stdout.flush()  # a closed pipe shows here, inside the handlers below
        return status
    except KeyboardInterrupt:
        return _fail(debug, 130, [(None, "interrupted")])
    except BrokenPipeError:  # `plan --json | head`: the reader stopped early, which is no failure here
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except InputError as e:
        return _fail(debug, 2, [_flagged(command, field, message) for field, message in e.problems])
    except ValueError as e:  # a model file that is not what it should be (the loaders name the file)
        return _fail(debug, 2, [(None, str(e) or type(e).__name__)])
    except Exception as e:  # noqa: BLE001 -- any other failure: one line, the traceback with --debug
        return _fail(debug, 1, [(None, str(e) or type(e).__name__)])
