"""ChunkSpec schedules: what the user wants each chunk of a chain to be.

A schedule is global defaults plus sparse changes along the chain:

* prompt keyframes that stick until the next one, placed at a chunk index, a time in seconds or a frame;
* per-chunk values (seed, handoff strength, tail noise, denoise of a source video, a soundtrack's strength,
  guidance) given as one value or as a list
  whose last value repeats;
* LoRA scale ramps, as a per-chunk list or as keyframes interpolated linearly between chunks;
* first/last-frame anchor images per chunk, by reference (a file name), resolved by whoever renders.

Changes only ever apply at chunk boundaries: a keyframe placed at a time takes effect at the chunk boundary
nearest to it (:meth:`ChainPlan.chunk_for_frame`). ``ChunkSchedule.resolve(i, plan)`` gives chunk i's
effective :class:`ChunkParams`.

The same content is accepted as a JSON string (API clients, the web editor, saved workflows) and dumps back
to JSON that loads to an equal schedule; ``ChunkSchedule.json_schema()`` is the JSON Schema of the format.
"""

from __future__ import annotations

import difflib
import json
import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.functional_validators import PlainValidator
from pydantic.json_schema import WithJsonSchema
from pydantic_core import PydanticCustomError

from ..errors import InputError
from .plan import ChainPlan, frames_for_seconds

MAX_SEED = 2**53 - 1  # seeds travel through JSON and JavaScript; larger integers lose precision there
LORA_SCALE_LIMIT = 10.0
MAX_PROBLEMS = 20  # more are summed up in one line


class ScheduleError(InputError):
    """An invalid schedule; ``problems`` names each bad field."""


# --- per-chunk values: one value, or a list whose last value repeats -------------------------------------


def _shown(value: Any, limit: int = 60) -> str:
    """``repr(value)`` cut to ``limit`` characters: error messages quote what was given, never all of it."""
    try:
        text = repr(value)
    except RecursionError:
        text = f"a deeply nested {type(value).__name__}"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _per_chunk(kind: type, lo: float, hi: float, what: str):
    """A field type holding one value or a non-empty list of values, each ``kind`` within [lo, hi]."""
    wanted = f"{what} from {lo} to {hi}" if kind is int else f"{what} from {lo:g} to {hi:g}"

    def check_one(value: Any, where: str) -> Any:
        ok_type = isinstance(value, int) and not isinstance(value, bool)
        if kind is float:
            ok_type = ok_type or isinstance(value, float)
        if not ok_type or (kind is float and not math.isfinite(value)):
            raise PydanticCustomError("per_chunk", "{where}expected {wanted}, got {got}", {"where": where, "wanted": wanted, "got": _shown(value)})
        if not lo <= value <= hi:
            raise PydanticCustomError("per_chunk", "{where}{got} is out of range; expected {wanted}", {"where": where, "wanted": wanted, "got": _shown(value)})
        return kind(value)

    def validate(value: Any) -> Any:
        if isinstance(value, (list, tuple)):
            if not value:
                raise PydanticCustomError("per_chunk", "an empty list; give one value or a list of at least one")
            return tuple(check_one(v, f"item {i}: ") for i, v in enumerate(value))
        return check_one(value, "")

    item = {"type": "integer" if kind is int else "number", "minimum": lo, "maximum": hi}
    schema = {"anyOf": [item, {"type": "array", "items": item, "minItems": 1}]}
    return Annotated[Any, PlainValidator(validate), WithJsonSchema(schema)]


def pick(value: Any, index: int) -> Any:
    """Chunk ``index``'s entry of a per-chunk value: lists repeat their last value."""
    if isinstance(value, tuple):
        return value[min(index, len(value) - 1)]
    return value


Seed = _per_chunk(int, 0, MAX_SEED, "a whole-number seed")
Unit = _per_chunk(float, 0.0, 1.0, "a number")
Guidance = _per_chunk(float, 0.0, 100.0, "a guidance scale")
LoraScale = _per_chunk(float, -LORA_SCALE_LIMIT, LORA_SCALE_LIMIT, "a LoRA scale")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TimelinePoint(_Model):
    """A place on the chain: exactly one of a chunk index, a time in seconds, or a frame."""

    chunk: int | None = Field(None, ge=0, description="Chunk index (0-based).")
    seconds: float | None = Field(None, ge=0, allow_inf_nan=False, description="Time from the start, in seconds.")
    frame: int | None = Field(None, ge=0, description="Output frame number (0-based).")

    @model_validator(mode="after")
    def _exactly_one_place(self):
        given = [k for k in ("chunk", "seconds", "frame") if getattr(self, k) is not None]
        if len(given) != 1:
            found = f"got {', '.join(given)}" if given else "got none"
            raise ValueError(f"give exactly one of chunk, seconds or frame ({found})")
        return self

    def chunk_index(self, plan: ChainPlan | None, field: str) -> int:
        """The chunk this point takes effect at (a time maps to the nearest chunk boundary)."""
        if self.chunk is not None:
            return self.chunk
        if plan is None:
            raise ScheduleError([(field, "a time (seconds or frame) needs the chain's plan to map it onto chunks")])
        frame = self.frame if self.frame is not None else frames_for_seconds(self.seconds, plan.fps)
        return plan.chunk_for_frame(frame)

    def place_text(self) -> str:
        if self.chunk is not None:
            return f"chunk {self.chunk}"
        return f"{self.seconds:g} s" if self.seconds is not None else f"frame {self.frame}"


class PromptKeyframe(TimelinePoint):
    text: str = Field(description="The prompt from this point on, until the next prompt keyframe.")


class LoraKeyframe(TimelinePoint):
    scale: float = Field(ge=-LORA_SCALE_LIMIT, le=LORA_SCALE_LIMIT, allow_inf_nan=False)


class LoraRamp(_Model):
    """A LoRA's scale along the chain: a per-chunk list (last repeats) or keyframes interpolated linearly."""

    name: str = Field(min_length=1, description="LoRA file name as the loader knows it.")
    scale: LoraScale | None = Field(None, description="One scale, or one per chunk (the last repeats).")
    keyframes: list[LoraKeyframe] | None = Field(
        None, min_length=1, description="Scales at points; linear between them, held before the first and after the last."
    )

    @model_validator(mode="after")
    def _one_form(self):
        if self.scale is not None and self.keyframes is not None:
            raise ValueError("give either scale or keyframes, not both")
        return self

    def scale_at(self, index: int, plan: ChainPlan | None, field: str) -> float:
        if self.keyframes is None:
            return pick(1.0 if self.scale is None else self.scale, index)
        points: dict[int, float] = {}
        for k, key in enumerate(self.keyframes):
            points[key.chunk_index(plan, f"{field}.keyframes[{k}]")] = key.scale
        xs = sorted(points)
        if index <= xs[0]:
            return points[xs[0]]
        if index >= xs[-1]:
            return points[xs[-1]]
        for a, b in zip(xs, xs[1:]):
            if a <= index <= b:
                t = (index - a) / (b - a)
                return points[a] + t * (points[b] - points[a])
        raise AssertionError("unreachable: index lies between the first and last keyframe")


class Anchor(TimelinePoint):
    """An image pinned to the first or last frame of a chunk."""

    image: str = Field(min_length=1, description="Image reference: a file name (resolved by the renderer).")
    position: Literal["first", "last"] = Field("first", description="Pin the chunk's first or last frame.")
    strength: float = Field(1.0, ge=0.0, le=1.0, allow_inf_nan=False, description="1 pins the frame exactly.")


@dataclass(frozen=True)
class ResolvedAnchor:
    image: str
    position: str
    strength: float


@dataclass(frozen=True)
class ChunkParams:
    """The effective parameters of one chunk."""

    index: int
    prompt: str
    negative_prompt: str
    seed: int
    handoff_strength: float
    tail_noise: float
    denoise: float
    audio_strength: float
    guidance: float | None
    loras: tuple[tuple[str, float], ...]
    anchors: tuple[ResolvedAnchor, ...]

    def to_dict(self) -> dict:
        d = asdict(self)
        d["loras"] = {name: scale for name, scale in self.loras}
        return d


class ChunkSchedule(_Model):
    """Per-chunk parameters of a chain: defaults plus sparse changes that apply at chunk boundaries."""

    model_config = ConfigDict(extra="forbid", frozen=True, title="LTX-2 Chain schedule")

    version: Literal[1] = Field(1, description="Format version.")
    prompt: str = Field("", description="The prompt from chunk 0 until the first prompt keyframe.")
    prompts: list[PromptKeyframe] = Field(default_factory=list, description="Prompt keyframes; each sticks until the next.")
    negative_prompt: str = Field("", description="Negative prompt for every chunk.")
    seed: Seed = Field(0, description="Seed, or one per chunk (the last repeats; see seed_mode).")
    seed_mode: Literal["fixed", "increment"] = Field(
        "fixed", description="Past the end of the seed list: 'fixed' repeats the last seed, 'increment' adds 1 per chunk."
    )
    handoff_strength: Unit = Field(1.0, description="How firmly a chunk holds the previous chunk's tail (1 = exactly).")
    tail_noise: Unit = Field(0.0, description="Light re-noise of the handed-over tail (0 = clean).")
    denoise: Unit = Field(1.0, description="With a source video: how much of each chunk's frames is made anew (0 = the source exactly, 1 = from pure noise). Values below 1 need a source video.")
    audio_strength: Unit = Field(1.0, description="With a soundtrack: how firmly each chunk's sound holds the track (1 = exactly the track; the video follows it). Values below 1 need a soundtrack.")
    guidance: Guidance | None = Field(None, description="Guidance scale per chunk; null uses the model's default.")
    loras: list[LoraRamp] = Field(default_factory=list, description="Runtime-scaled LoRAs and their scale ramps.")
    anchors: list[Anchor] = Field(default_factory=list, description="Images pinned to a chunk's first or last frame.")

    @field_validator("loras")
    @classmethod
    def _unique_lora_names(cls, loras: list[LoraRamp]) -> list[LoraRamp]:
        names = [lora.name for lora in loras]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"LoRA {dupes[0]!r} is listed more than once; give each LoRA one ramp")
        return loras

    # --- resolution ------------------------------------------------------------------------------------

    def resolve(self, index: int, plan: ChainPlan | None = None) -> ChunkParams:
        """Chunk ``index``'s effective parameters. ``plan`` is needed when points are given in time."""
        if index < 0:
            raise ValueError(f"chunk index {index} is negative")
        prompt = self.prompt
        at: dict[int, str] = {}
        for k, key in enumerate(self.prompts):
            at[key.chunk_index(plan, f"prompts[{k}]")] = key.text
        for chunk in sorted(at):
            if chunk <= index:
                prompt = at[chunk]

        seed = pick(self.seed, index)
        if self.seed_mode == "increment" and isinstance(self.seed, tuple):
            seed += max(0, index - (len(self.seed) - 1))
        elif self.seed_mode == "increment":
            seed += index

        anchors: dict[str, ResolvedAnchor] = {}
        for k, a in enumerate(self.anchors):
            if a.chunk_index(plan, f"anchors[{k}]") == index:
                anchors[a.position] = ResolvedAnchor(a.image, a.position, a.strength)

        return ChunkParams(
            index=index,
            prompt=prompt,
            negative_prompt=self.negative_prompt,
            seed=seed % (MAX_SEED + 1),
            handoff_strength=pick(self.handoff_strength, index),
            tail_noise=pick(self.tail_noise, index),
            denoise=pick(self.denoise, index),
            audio_strength=pick(self.audio_strength, index),
            guidance=pick(self.guidance, index),
            loras=tuple((lora.name, lora.scale_at(index, plan, f"loras[{k}]")) for k, lora in enumerate(self.loras)),
            anchors=tuple(anchors[p] for p in ("first", "last") if p in anchors),
        )

    def check(self, plan: ChainPlan) -> list[str]:
        """Warnings about this schedule on ``plan``: points past the end, points that collide."""
        warnings = []
        last = len(plan.chunks) - 1

        def visit(kind: str, points, key=lambda p: None):
            seen: dict[tuple, str] = {}
            for k, p in enumerate(points):
                field = f"{kind}[{k}]"
                if p.frame is not None and p.frame >= plan.total_frames or p.seconds is not None and frames_for_seconds(p.seconds, plan.fps) >= plan.total_frames:
                    warnings.append(f"{field}: {p.place_text()} is past the end of the video; it applies to the last chunk")
                chunk = p.chunk_index(plan, field)
                if chunk > last:
                    warnings.append(f"{field}: chunk {chunk} is past the last chunk ({last}); it has no effect")
                slot = (chunk, key(p))
                if slot in seen:
                    warnings.append(f"{field}: lands on chunk {chunk} like {seen[slot]}; the later one wins")
                seen[slot] = field

        visit("prompts", self.prompts)
        visit("anchors", self.anchors, key=lambda a: a.position)
        for k, lora in enumerate(self.loras):
            visit(f"loras[{k}].keyframes", lora.keyframes or [])
        return warnings

    # --- JSON ------------------------------------------------------------------------------------------

    def to_json(self, indent: int | None = None) -> str:
        """Sparse JSON (defaults left out) that :meth:`parse` turns back into an equal schedule."""
        return json.dumps(self.model_dump(mode="json", exclude_defaults=True), indent=indent)

    @classmethod
    def parse(cls, source: str | dict | ChunkSchedule | None) -> ChunkSchedule:
        """A schedule from a JSON string, a dict, or None/"" (all defaults). Raises :class:`ScheduleError`."""
        if isinstance(source, ChunkSchedule):
            return source
        if source is None or (isinstance(source, str) and not source.strip()):
            return cls()
        if isinstance(source, str):
            try:
                source = json.loads(source)
            except json.JSONDecodeError as e:
                raise ScheduleError([("schedule", f"not valid JSON: {e.msg} at line {e.lineno} column {e.colno}")]) from None
            except RecursionError:
                raise ScheduleError([("schedule", "not a schedule: the JSON is nested too deeply")]) from None
            except ValueError:  # an integer of more digits than Python converts (4300)
                raise ScheduleError([("schedule", "not valid JSON: a number too long to read")]) from None
        if not isinstance(source, dict):
            raise ScheduleError([("schedule", f"expected a JSON object {{...}}, got {type(source).__name__}")])
        try:
            return cls.model_validate(source)
        except ValidationError as e:
            raise ScheduleError(_problems(e)) from None
        except RecursionError:
            raise ScheduleError([("schedule", "not a schedule: the JSON is nested too deeply")]) from None

    @classmethod
    def read(cls, path: str | os.PathLike) -> ChunkSchedule:
        """A schedule from a UTF-8 JSON file. An empty file is refused (``{}`` is the all-defaults schedule)."""
        try:
            data = Path(path).read_bytes()
        except OSError as e:
            raise ScheduleError([("schedule", f"cannot read {path}: {e.strerror}")]) from None
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as e:
            raise ScheduleError([("schedule", f"{path} is not UTF-8 text (byte {data[e.start]:#04x} at offset {e.start})")]) from None
        if not text.strip():
            raise ScheduleError([("schedule", f"{path} is empty; write {{}} for a schedule of all defaults")])
        return cls.parse(text)

    @classmethod
    def json_schema(cls) -> dict:
        schema = cls.model_json_schema()
        schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
        return schema


# --- error messages ----------------------------------------------------------------------------------

_FIELDS_OF = {
    "": ChunkSchedule,
    "prompts": PromptKeyframe,
    "loras": LoraRamp,
    "keyframes": LoraKeyframe,
    "anchors": Anchor,
}


def _path(loc: tuple) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            part = part if len(part) <= 40 else part[:37] + "..."
            out += f".{part}" if out else part
    return out


def _problems(error: ValidationError) -> list[tuple[str, str]]:
    items = error.errors(include_url=False)
    problems, suggested = [], set()
    for item in items:
        loc = tuple(item["loc"])
        if item["type"] == "extra_forbidden":
            parent = next((p for p in reversed(loc[:-1]) if isinstance(p, str)), "")
            valid = list(_FIELDS_OF.get(parent, ChunkSchedule).model_fields)
            close = difflib.get_close_matches(str(loc[-1]), valid, n=1)
            if close:
                suggested.add(loc[:-1] + (close[0],))
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            problems.append((loc, f"unknown field{hint}; valid fields here are: {', '.join(valid)}"))
        elif item["type"] == "missing":
            problems.append((loc, "this field is required"))
        else:
            message = item["msg"].removeprefix("Value error, ")
            if item["type"] not in ("per_chunk", "value_error") and "input" in item:
                message += f" (got {_shown(item['input'])})"
            problems.append((loc, message))
    # a misspelt required field shows up twice (unknown + missing): the "did you mean" says it all
    shown = [(_path(loc) or "schedule", msg) for loc, msg in problems if not (msg == "this field is required" and loc in suggested)]
    if len(shown) > MAX_PROBLEMS:
        shown = [*shown[:MAX_PROBLEMS], ("schedule", f"and {len(shown) - MAX_PROBLEMS} more problems")]
    return shown
