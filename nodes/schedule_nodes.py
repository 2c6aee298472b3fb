"""Schedule nodes: build a chain's ChunkSpec schedule from JSON or piece by piece.

Every node takes an optional schedule and returns a new one with its change applied (nothing is mutated:
ComfyUI caches outputs). The schedule travels as SCHEDULE: the validated schedule plus the anchor images
plugged in along the way, by name.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from ..ltx2.chain.schedule import ChunkSchedule
from ..ltx2.errors import InputError
from .host import CATEGORY, NODE_PREFIX, io

Schedule = io.Custom("LTX2CHAIN_SCHEDULE")
SCHEDULE_CATEGORY = CATEGORY + "/schedule"
AT_UNITS = ["chunk", "seconds", "frame"]


@dataclass(frozen=True)
class ScheduleInput:
    """A schedule and the anchor images it references by name."""

    schedule: ChunkSchedule = field(default_factory=ChunkSchedule)
    images: dict[str, torch.Tensor] = field(default_factory=dict)

    def with_changes(self, **changes) -> ScheduleInput:
        data = self.schedule.model_dump(mode="json", exclude_defaults=True)
        data.update(changes)
        return ScheduleInput(ChunkSchedule.parse(data), self.images)


def _upstream(schedule: ScheduleInput | None) -> ScheduleInput:
    return schedule if schedule is not None else ScheduleInput()


def _place(unit: str, at: float) -> dict:
    if unit not in AT_UNITS:
        raise InputError([("unit", f"{unit!r} is not one of {', '.join(AT_UNITS)}")])
    return {unit: at if unit == "seconds" else int(at)}


def parse_numbers(field_name: str, text: str, kind: type = float) -> float | list:
    """"0.5" -> 0.5, "1, 0.8, 0.6" -> [1.0, 0.8, 0.6]; names the field and the bad item otherwise."""
    items = [t.strip() for t in text.replace(";", ",").split(",") if t.strip()]
    if not items:
        raise InputError([(field_name, "give a number or a comma-separated list of numbers")])
    values = []
    for i, item in enumerate(items):
        try:
            values.append(kind(item))
        except ValueError:
            raise InputError([(field_name, f"item {i} ({item!r}) is not a {'whole number' if kind is int else 'number'}")]) from None
    return values[0] if len(values) == 1 else values


def check_schedule_json(text: str | None) -> bool | str:
    """``validate_inputs`` for a schedule JSON widget: True, or the error naming the field (linked: None, later)."""
    if text is None:
        return True
    try:
        ChunkSchedule.parse(text)
    except InputError as e:
        return "; ".join(f"schedule: {msg}" if field == "schedule" else f"schedule: {field}: {msg}" for field, msg in e.problems)
    return True


def _schedule_in(tooltip: str = "Schedule to add to (empty: start a new one)."):
    return Schedule.Input("schedule", optional=True, tooltip=tooltip)


def _schedule_out():
    return Schedule.Output("schedule_out", display_name="schedule", tooltip="The schedule with this change applied.")


def _at_inputs():
    return [
        io.Combo.Input("unit", options=AT_UNITS, default="chunk", tooltip="Where 'at' points: a chunk index, a time in seconds, or an output frame. Times take effect at the nearest chunk boundary."),
        io.Float.Input("at", default=0.0, min=0.0, max=1e6, step=0.01, tooltip="Chunk index, seconds or frame, per 'unit'."),
    ]


class ScheduleJSON(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id=NODE_PREFIX + "Schedule",
            display_name="Schedule (LTX-2 Chain)",
            category=SCHEDULE_CATEGORY,
            description="A chain schedule as JSON (the format `python -m ltx2 schema` describes), edited on the timeline in the UI; headless clients send the JSON directly.",
            inputs=[io.String.Input("schedule", default="{}", multiline=True, tooltip="Schedule JSON: prompt, prompts, seed, handoff_strength, loras, anchors, ...")],
            outputs=[_schedule_out()],
        )

    @classmethod
    def validate_inputs(cls, schedule=None):
        return check_schedule_json(schedule)

    @classmethod
    def execute(cls, schedule):
        return io.NodeOutput(ScheduleInput(ChunkSchedule.parse(schedule)))


class PromptKeyframe(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id=NODE_PREFIX + "PromptKeyframe",
            display_name="Prompt Keyframe (LTX-2 Chain)",
            category=SCHEDULE_CATEGORY,
            description="From this point on, chunks use this prompt, until the next prompt keyframe. At chunk 0 it sets the opening prompt.",
            inputs=[_schedule_in(), *_at_inputs(), io.String.Input("text", default="", multiline=True, tooltip="The prompt from this point on.")],
            outputs=[_schedule_out()],
        )

    @classmethod
    def execute(cls, unit, at, text, schedule=None):
        base = _upstream(schedule)
        prompts = [p.model_dump(exclude_none=True) for p in base.schedule.prompts]
        return io.NodeOutput(base.with_changes(prompts=[*prompts, {**_place(unit, at), "text": text}]))


class ChunkValues(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id=NODE_PREFIX + "ChunkValues",
            display_name="Per-Chunk Values (LTX-2 Chain)",
            category=SCHEDULE_CATEGORY,
            description="Seeds and strengths per chunk. Each field takes one value or a comma-separated list (one per chunk; the last value repeats).",
            inputs=[
                _schedule_in(),
                io.String.Input("seed", default="0", tooltip="Seed, or one per chunk: e.g. '42' or '42, 7, 7'."),
                io.Combo.Input("seed_mode", options=["fixed", "increment"], default="fixed", tooltip="Past the end of the seed list: repeat the last seed, or add 1 per chunk."),
                io.String.Input("handoff_strength", default="1.0", tooltip="How firmly each chunk holds the previous chunk's tail (0..1), e.g. '1.0, 0.9'."),
                io.String.Input("tail_noise", default="0.0", tooltip="Light re-noise of the handed-over tail (0..1)."),
                io.String.Input("negative_prompt", default="", multiline=True, tooltip="Negative prompt for every chunk (empty keeps the upstream one)."),
                io.String.Input("denoise", default="1.0", optional=True, tooltip="With a source video on the Chain Sampler: how much of each chunk is made anew (0 = the source exactly, 1 = from noise), e.g. '0.6'."),
                io.String.Input("audio_strength", default="1.0", optional=True, tooltip="With a soundtrack on the Chain Sampler: how firmly each chunk's sound holds the track (1 = exactly; the video follows it)."),
            ],
            outputs=[_schedule_out()],
        )

    @classmethod
    def execute(cls, seed, seed_mode, handoff_strength, tail_noise, negative_prompt, denoise="1.0", audio_strength="1.0", schedule=None):
        changes = {
            "seed": parse_numbers("seed", seed, int),
            "seed_mode": seed_mode,
            "handoff_strength": parse_numbers("handoff_strength", handoff_strength),
            "tail_noise": parse_numbers("tail_noise", tail_noise),
            "denoise": parse_numbers("denoise", denoise),
            "audio_strength": parse_numbers("audio_strength", audio_strength),
        }
        if negative_prompt.strip():
            changes["negative_prompt"] = negative_prompt
        return io.NodeOutput(_upstream(schedule).with_changes(**changes))


class LoraRamp(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id=NODE_PREFIX + "LoraRamp",
            display_name="LoRA Scale Ramp (LTX-2 Chain)",
            category=SCHEDULE_CATEGORY,
            description="A runtime LoRA's scale along the chain: a per-chunk list (last repeats), or a ramp from one scale to another between two chunks. Scales change only at chunk boundaries, without reloading the model.",
            inputs=[
                _schedule_in(),
                io.String.Input("lora_name", default="", tooltip="The LoRA's file name, as loaded by the LoRA loader node."),
                io.Combo.Input("mode", options=["list", "ramp"], default="ramp", tooltip="'list': scales per chunk; 'ramp': linear from start_scale at start_chunk to end_scale at end_chunk."),
                io.String.Input("scales", default="1.0", tooltip="For 'list': one scale per chunk, e.g. '0, 0.5, 1'."),
                io.Int.Input("start_chunk", default=0, min=0, max=10000, tooltip="For 'ramp': chunk where the ramp starts."),
                io.Float.Input("start_scale", default=0.0, min=-10.0, max=10.0, step=0.05, tooltip="For 'ramp': scale up to and at start_chunk."),
                io.Int.Input("end_chunk", default=4, min=0, max=10000, tooltip="For 'ramp': chunk where the ramp ends."),
                io.Float.Input("end_scale", default=1.0, min=-10.0, max=10.0, step=0.05, tooltip="For 'ramp': scale at and after end_chunk."),
            ],
            outputs=[_schedule_out()],
        )

    @classmethod
    def execute(cls, lora_name, mode, scales, start_chunk, start_scale, end_chunk, end_scale, schedule=None):
        base = _upstream(schedule)
        if mode == "list":
            ramp = {"name": lora_name, "scale": parse_numbers("scales", scales)}
        else:
            ramp = {"name": lora_name, "keyframes": [{"chunk": start_chunk, "scale": start_scale}, {"chunk": end_chunk, "scale": end_scale}]}
        loras = [lora.model_dump(mode="json", exclude_none=True) for lora in base.schedule.loras if lora.name != lora_name]
        return io.NodeOutput(base.with_changes(loras=[*loras, ramp]))


class Anchor(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id=NODE_PREFIX + "Anchor",
            display_name="Anchor Image (LTX-2 Chain)",
            category=SCHEDULE_CATEGORY,
            description="Pins a chunk's first or last frame to an image (first frame of chunk 0 = image-to-video).",
            inputs=[
                _schedule_in(),
                io.Image.Input("image", tooltip="The image (the first one of a batch is used)."),
                *_at_inputs(),
                io.Combo.Input("position", options=["first", "last"], default="first", tooltip="Pin the chunk's first or last frame."),
                io.Float.Input("strength", default=1.0, min=0.0, max=1.0, step=0.05, tooltip="1 pins the frame exactly; lower lets the model drift from it."),
            ],
            outputs=[_schedule_out()],
        )

    @classmethod
    def execute(cls, image, unit, at, position, strength, schedule=None):
        base = _upstream(schedule)
        name = f"anchor_{len(base.images)}"
        anchors = [a.model_dump(exclude_none=True) for a in base.schedule.anchors]
        changed = base.with_changes(anchors=[*anchors, {**_place(unit, at), "image": name, "position": position, "strength": strength}])
        return io.NodeOutput(ScheduleInput(changed.schedule, {**base.images, name: image[:1]}))


NODES = [ScheduleJSON, PromptKeyframe, ChunkValues, LoraRamp, Anchor]
