"""A plan with its schedule resolved, as JSON and as text: the dry run the CLI and the preview node show."""

from __future__ import annotations

from .plan import ChainPlan
from .schedule import ChunkParams, ChunkSchedule


def _describe(p: ChunkParams) -> str:
    parts = [f"seed {p.seed}", f"handoff {p.handoff_strength:g}"]
    if p.tail_noise:
        parts.append(f"tail noise {p.tail_noise:g}")
    if p.denoise != 1:
        parts.append(f"denoise {p.denoise:g}")
    if p.audio_strength != 1:
        parts.append(f"audio strength {p.audio_strength:g}")
    if p.guidance is not None:
        parts.append(f"guidance {p.guidance:g}")
    parts += [f"lora {name} x{scale:.3g}" for name, scale in p.loras]
    parts += [f"{a.position} frame <- {a.image} @{a.strength:g}" for a in p.anchors]
    return f"chunk {p.index}: {p.prompt!r}\n    " + ", ".join(parts)


def plan_report(plan: ChainPlan, schedule: ChunkSchedule | None = None) -> tuple[dict, str]:
    """``(json_data, text)``. With a schedule each chunk gains ``params`` and the data gains ``warnings``."""
    data = plan.to_dict()
    lines = [plan.table()]
    if schedule is not None:
        params = [schedule.resolve(c.index, plan) for c in plan.chunks]
        for entry, p in zip(data["chunks"], params):
            entry["params"] = p.to_dict()
        data["warnings"] = schedule.check(plan)
        lines += ["", *(_describe(p) for p in params), *(f"warning: {w}" for w in data["warnings"])]
    return data, "\n".join(lines)
