"""Where a chained video's chunks are: the output frames each chunk delivered, from its plan or from its sizes.

A boundary is the first output frame of a later chunk (its plan's ``keep[0]``); the seam, if any, lies between
that frame and the one before it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from fractions import Fraction

from ..chain.plan import ChainPlan, make_plan
from ..errors import InputError

DEFAULT_CHUNK_FRAMES = 121
DEFAULT_TAIL_FRAMES = 25
"""The Chain Sampler's defaults: the boundaries assumed when neither a plan nor sizes are given."""


@dataclass(frozen=True)
class ChunkLayout:
    ranges: tuple[tuple[int, int], ...]
    """Half-open output frame range of each chunk, in order, tiling [0, total)."""
    source: str
    """Where the layout came from, for the report."""

    @property
    def total(self) -> int:
        return self.ranges[-1][1]

    @property
    def boundaries(self) -> list[int]:
        return [start for start, _ in self.ranges[1:]]

    def check(self, frames: int, field: str) -> None:
        if frames != self.total:
            why = f"{self.source} covers {self.total} frames but the video has {frames}"
            raise InputError([(field, why + "; give the plan of this video (the Chain Sampler's plan_json) or the sizes it was rendered with")])


def _from_chunks(chunks: list, source: str, field: str) -> ChunkLayout:
    ranges = []
    for k, chunk in enumerate(chunks):
        keep = chunk.get("keep") if isinstance(chunk, dict) else None
        if not (isinstance(keep, (list, tuple)) and len(keep) == 2 and all(isinstance(v, int) and not isinstance(v, bool) for v in keep)):
            raise InputError([(field, f"chunks[{k}] has no keep: [first, end) frame pair; give the plan JSON the Chain Sampler or `python -m ltx2 plan --json` writes")])
        ranges.append((keep[0], keep[1]))
    if not ranges:
        raise InputError([(field, "the plan has no chunks")])
    expected = 0
    for k, (start, end) in enumerate(ranges):
        if start != expected or end <= start:
            raise InputError([(field, f"chunks[{k}].keep is [{start}, {end}); the chunks' keep ranges must follow each other from frame 0 without gaps")])
        expected = end
    return ChunkLayout(tuple(ranges), source)


def layout_from_plan(plan: ChainPlan | dict | str, field: str = "plan") -> ChunkLayout:
    """The layout of a :class:`ChainPlan`, its ``to_dict()`` / ``plan_report`` JSON data, or that JSON as text."""
    if isinstance(plan, ChainPlan):
        return ChunkLayout(tuple(c.keep for c in plan.chunks), "the plan")
    if isinstance(plan, str):
        try:
            plan = json.loads(plan)
        except json.JSONDecodeError as e:
            raise InputError([(field, f"not valid JSON ({e.msg} at line {e.lineno}, column {e.colno})")]) from None
    if not isinstance(plan, dict) or not isinstance(plan.get("chunks"), list):
        raise InputError([(field, "expected a plan object with a 'chunks' list (the Chain Sampler's plan_json or `python -m ltx2 plan --json`)")])
    return _from_chunks(plan["chunks"], "the plan", field)


def _plan(**kwargs) -> ChainPlan:
    try:
        return make_plan(**kwargs)
    except InputError as e:  # the plan's own field name for what this module calls chunk_frames
        raise InputError([("chunk_frames" if field == "clip_frames" else field, message) for field, message in e.problems]) from None


def check_sizes(chunk_frames: int | None, tail_frames: int | None, crossfade: bool = False) -> None:
    """Fail early (before decoding) on sizes no chain uses."""
    clip = DEFAULT_CHUNK_FRAMES if chunk_frames is None else chunk_frames
    _plan(fps=24, clip_frames=clip, tail_frames=DEFAULT_TAIL_FRAMES if tail_frames is None else tail_frames, total_frames=clip, crossfade=crossfade)


def layout_from_sizes(frames: int, fps: Fraction, chunk_frames: int | None, tail_frames: int | None, crossfade: bool = False) -> ChunkLayout:
    """The layout a chain of ``chunk_frames``-frame chunks with ``tail_frames``-frame tails gives a ``frames``-frame
    video (the Chain Sampler's defaults, 121 and 25, where not given)."""
    defaults = chunk_frames is None and tail_frames is None
    clip = DEFAULT_CHUNK_FRAMES if chunk_frames is None else chunk_frames
    tail = DEFAULT_TAIL_FRAMES if tail_frames is None else tail_frames
    plan = _plan(fps=fps, clip_frames=clip, tail_frames=tail, total_frames=frames, max_chunks=frames, crossfade=crossfade)
    source = f"chunks of {clip} frames with a {tail}-frame tail{', crossfaded' if crossfade else ''}"
    return ChunkLayout(tuple(c.keep for c in plan.chunks), source + (" (the Chain Sampler's defaults: no plan given)" if defaults else ""))
