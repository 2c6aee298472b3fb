"""The seam report of one video: measure it once, then read it as JSON, as text, or as a plot."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..chain.plan import ChainPlan
from ..errors import InputError
from . import source
from .boundaries import SEAM_SCORE, WINDOW_FRAMES, score_boundaries
from .chunks import ChunkLayout, check_sizes, layout_from_plan, layout_from_sizes
from .drift import chunk_stats, drift_errors
from .picture import PictureSignals
from .sound import SoundSignals


@dataclass
class SeamReport:
    video: source.VideoInfo
    layout: ChunkLayout
    boundaries: list[dict]
    chunks: list[dict]
    vde: dict
    features: dict
    picture: dict = field(repr=False)
    """Per-frame picture signals (:meth:`PictureSignals.arrays`), for the plot."""
    sound: dict | None = field(repr=False)
    notes: list[str] = field(default_factory=list)

    @property
    def frames(self) -> int:
        return self.layout.total

    @property
    def worst(self) -> dict | None:
        """The boundary with the highest score (None for a single chunk)."""
        return max(self.boundaries, key=lambda b: b["score"]) if self.boundaries else None

    def to_dict(self) -> dict:
        """``{"boundaries": [{"frame", "score", ...}], "chunks": [...], "vde": {...}, ...}``, JSON-ready."""
        return _clean({
            "video": {**self.video.to_dict(), "frames": self.frames, "chunks_from": self.layout.source},
            "seam_score_threshold": SEAM_SCORE,
            "boundaries": self.boundaries,
            "chunks": self.chunks,
            "vde": self.vde,
            "features": self.features,
            "notes": self.notes,
        })  # fmt: skip

    def text(self) -> str:
        v = self.video
        sound = f"sound at {v.sample_rate} Hz" if v.sample_rate else "no sound"
        size = f"{v.width}x{v.height} (measured at {v.analysis_width}x{v.analysis_height})"
        lines = [
            f"{v.name}: {self.frames} frames at {float(v.fps):g} fps, {size}, {sound}; {len(self.layout.ranges)} chunks, {self.layout.source}",
            "",
            f"{'boundary':>8} {'time s':>7} {'score':>6}  {'worst':<11} {'diff x':>6} {'dE':>6} {'dE x':>6} {'ssim':>6} {'click':>6} {'flux x':>6}",
        ]  # fmt: skip
        for b in self.boundaries:
            audio = f"{b['audio_click']:>6.3f} {b['audio_flux_ratio']:>6.2f}" if b["audio_click"] is not None else f"{'-':>6} {'-':>6}"
            mark = "  <- seam" if b["seam"] else ""
            lines.append(f"{b['frame']:>8} {b['time_s']:>7.2f} {b['score']:>6.2f}  {b['worst_metric']:<11} {b['frame_diff_ratio']:>6.2f} "
                         f"{b['lab_shift']:>6.2f} {b['lab_ratio']:>6.2f} {b['ssim']:>6.3f} {audio}{mark}")  # fmt: skip
        if not self.boundaries:
            lines.append("  (one chunk: no boundaries)")
        worst = self.worst
        if worst is not None:
            verdict = f"worst seam: frame {worst['frame']}, score {worst['score']:.2f} ({worst['worst_metric']})" if worst["seam"] else f"no seam (every score below {SEAM_SCORE:g})"
            lines += ["", verdict]
        lines += ["", f"{'chunk':>5} {'frames':>13} {'sharpness':>9} {'L*':>6} {'a*':>6} {'b*':>6} {'dE 1st':>6} {'motion':>6} {'dBFS':>7}"]
        for c in self.chunks:
            loud = f"{c['loudness_dbfs']:>7.1f}" if c["loudness_dbfs"] is not None else f"{'-':>7}"
            span = f"[{c['frames'][0]}, {c['frames'][1]})"
            lines.append(f"{c['index']:>5} {span:>13} {c['sharpness']:>9.1f} {c['lightness']:>6.1f} {c['a']:>6.1f} {c['b']:>6.1f} "
                         f"{c['delta_e_from_first']:>6.2f} {c['motion']:>6.2f} {loud}")  # fmt: skip
        lines += ["", "VDE (linear / log weights): " + ", ".join(f"{m} {self.vde['linear'][m]:.3f} / {self.vde['log'][m]:.3f}" for m in self.vde["linear"])]
        lines += [f"VDE skipped: {m} ({why})" for m, why in self.vde["skipped"].items()]
        lines.append(f"features: {self.features['status']}" + (f" ({self.features['reason']})" if "reason" in self.features else f" ({self.features['model']})"))
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)


def _clean(value):
    """Rounded floats, numpy scalars as Python numbers, non-finite values as None: strict JSON."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return round(float(value), 5) if math.isfinite(value) else None
    return value


def measure_seams(
    video: source.VideoSource,
    *,
    plan: ChainPlan | dict | str | None = None,
    chunk_frames: int | None = None,
    tail_frames: int | None = None,
    crossfade: bool = False,
    feature_model=None,
    max_side: int = source.DEFAULT_MAX_SIDE,
    window: int = WINDOW_FRAMES,
) -> SeamReport:
    """Measure the seams and drift of a chained video.

    The chunks come from ``plan`` (a :class:`ChainPlan`, its JSON data or text: the Chain Sampler's ``plan_json``),
    else from ``chunk_frames`` / ``tail_frames`` (the Chain Sampler's 121 / 25 where not given). ``feature_model``:
    a local vision model folder or a loaded :class:`~ltx2.seams.features.FeatureModel` (None skips the feature
    metric). Frames are streamed and measured at most ``max_side`` pixels on their longer side.
    """
    if plan is not None and (chunk_frames is not None or tail_frames is not None):
        raise InputError([("plan", "give either a plan or chunk_frames / tail_frames, not both")])
    if window < 1:
        raise InputError([("window", f"must be at least 1 frame, got {window}")])
    layout = layout_from_plan(plan) if plan is not None else None
    if layout is None:
        check_sizes(chunk_frames, tail_frames, crossfade)
    info = source.probe(video, max_side)
    model = _feature_model(feature_model)
    picture = PictureSignals()
    for rgb in source.frames(video, info):
        picture.add(rgb)
    if not len(picture):
        raise InputError([("video", f"{info.name} has no frames")])
    if layout is None:
        layout = layout_from_sizes(len(picture), info.fps, chunk_frames, tail_frames, crossfade)
    else:
        layout.check(len(picture), "plan")
    sound = None
    if info.sample_rate:
        signals = SoundSignals(info.fps, info.sample_rate)
        for block in source.sound(video, info):
            signals.feed(block)
        signals.finish(len(picture))
        sound = signals.arrays()
    notes = [] if sound is not None else ["no audio stream: the sound metrics are skipped"]
    if (info.analysis_width, info.analysis_height) != (info.width, info.height):
        notes.append(f"frames measured downscaled to {info.analysis_width}x{info.analysis_height} (max_side {max_side})")
    distances, feature_drift, features = None, None, {"status": "skipped", "reason": "no feature model given"}
    if model is not None:
        from .features import feature_signals

        distances, feature_drift = feature_signals(model, source.frames(video, info), layout)
        features = {"status": "measured", "model": str(model.folder)}
    arrays = picture.arrays()
    fps = float(info.fps)
    boundaries = score_boundaries(layout, arrays, sound, distances, fps, window)
    chunks = chunk_stats(layout, arrays, sound, feature_drift)
    return SeamReport(info, layout, boundaries, chunks, drift_errors(chunks), features, arrays, sound, notes)


def _feature_model(feature_model):
    if feature_model is None or feature_model == "":
        return None
    from .features import FeatureModel

    return feature_model if isinstance(feature_model, FeatureModel) else FeatureModel(feature_model)
