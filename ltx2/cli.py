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

from .chain.plan import DEFAULT_MAX_CHUNKS, make_plan
from .chain.report import plan_report
from .chain.schedule import ChunkSchedule, ScheduleError
from .errors import InputError


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
    plan.add_argument("--json", action="store_true", help="print the plan as JSON")

    schema = commands.add_parser("schema", help="print the JSON Schema of schedule files")
    schema.add_argument("--indent", type=int, default=2)
    return parser


def _load_schedule(path: Path) -> ChunkSchedule:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise ScheduleError([("--schedule", f"cannot read {path}: {e.strerror}")]) from None
    return ChunkSchedule.parse(text)


def _plan(args: argparse.Namespace) -> int:
    plan = make_plan(
        fps=args.fps,
        clip_frames=args.clip_frames,
        tail_frames=args.tail_frames,
        total_frames=args.frames,
        seconds=args.seconds,
        max_chunks=args.max_chunks,
    )
    schedule = _load_schedule(args.schedule) if args.schedule else None
    data, text = plan_report(plan, schedule)
    print(json.dumps(data, indent=2) if args.json else text)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "plan":
            return _plan(args)
        print(json.dumps(ChunkSchedule.json_schema(), indent=args.indent))
        return 0
    except InputError as e:
        for field, message in e.problems:
            print(f"error: {field}: {message}", file=sys.stderr)
        return 2
