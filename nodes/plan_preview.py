"""Chain Plan Preview: how a chain splits into chunks, before anything renders."""

from __future__ import annotations

import json

from ..ltx2.chain.plan import (
    DEFAULT_MAX_CHUNKS,
    MAX_CLIP_FRAMES,
    MAX_FPS,
    MAX_TOTAL_FRAMES,
    ChainPlan,
    make_plan,
)
from ..ltx2.chain.report import plan_report
from ..ltx2.chain.schedule import ChunkSchedule
from .host import ADVANCED, CATEGORY, NODE_PREFIX, io
from .schedule_nodes import check_schedule_json


def plan_inputs() -> list:
    """The widgets that define a plan (the timeline editor reads them by these names)."""
    return [
        io.Int.Input("total_frames", default=481, min=1, max=MAX_TOTAL_FRAMES, tooltip="Length of the finished video in frames (any number; the chain hits it exactly)."),
        io.Float.Input("seconds", default=0.0, min=0.0, max=MAX_TOTAL_FRAMES / 24, step=0.01, tooltip="Length in seconds instead; when above 0 it overrides total_frames."),
        io.Float.Input("fps", default=24.0, min=1.0, max=float(MAX_FPS), step=0.001, tooltip="Frame rate of the video."),
        io.Int.Input("clip_frames", default=121, min=9, max=MAX_CLIP_FRAMES, step=8, tooltip="Frames rendered per chunk: 8k+1 (97, 121, 161, ...)."),
        io.Int.Input("tail_frames", default=25, min=1, max=MAX_CLIP_FRAMES - 8, step=8, tooltip="Frames each chunk hands to the next: 8k+1 (17 or 25 work well), shorter than clip_frames."),
        io.Int.Input("max_chunks", default=DEFAULT_MAX_CHUNKS, min=1, max=10000, tooltip="Refuse plans with more chunks than this.", **ADVANCED),
    ]


def plan_from_inputs(total_frames, seconds, fps, clip_frames, tail_frames, max_chunks, crossfade=False) -> ChainPlan:
    return make_plan(
        fps=fps,
        clip_frames=clip_frames,
        tail_frames=tail_frames,
        total_frames=None if seconds > 0 else total_frames,
        seconds=seconds if seconds > 0 else None,
        max_chunks=max_chunks,
        crossfade=crossfade,
    )


class PlanPreview(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id=NODE_PREFIX + "PlanPreview",
            display_name="Chain Plan Preview (LTX-2 Chain)",
            category=CATEGORY,
            description=(
                "Shows how a long video splits into chunks: each chunk's rendered frames, the frames it keeps, "
                "the tail it hands to the next chunk, and (with a schedule) each chunk's prompt, seed and LoRA "
                "scales. Nothing is rendered."
            ),
            inputs=[
                *plan_inputs(),
                io.String.Input("schedule", default="", multiline=True, optional=True, tooltip="Optional schedule JSON (prompt keyframes, seeds, LoRA ramps, anchors). Empty means defaults."),
            ],
            outputs=[
                io.String.Output("plan_table", display_name="plan_table", tooltip="The plan as a text table."),
                io.String.Output("plan_json", display_name="plan_json", tooltip="The plan as JSON (chunks with start, frames, keep, tail_frames; params per chunk with a schedule)."),
            ],
            is_output_node=True,
        )

    @classmethod
    def validate_inputs(cls, schedule=None):  # only schedule: ComfyUI repeats an error once per input passed here
        return check_schedule_json(schedule)

    @classmethod
    def execute(cls, total_frames, seconds, fps, clip_frames, tail_frames, max_chunks, schedule=""):
        plan = plan_from_inputs(total_frames, seconds, fps, clip_frames, tail_frames, max_chunks)
        chunk_schedule = ChunkSchedule.parse(schedule) if schedule and schedule.strip() else None
        data, table = plan_report(plan, chunk_schedule)
        return io.NodeOutput(table, json.dumps(data), ui={"text": [table]})
