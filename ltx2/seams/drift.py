"""How the look and sound move from chunk to chunk: per-chunk statistics and Video Drift Error over them.

Video Drift Error (LV-Bench): with N chunks and a metric m_i per chunk,
``VDE = sum_{i>=2} w_i |m_i - m_1| / m_1``, with linear weights ``w_i = N - i + 1`` or log weights
``w_i = ln(N - i + 1)`` (i counts from 1). 0 means every chunk measures as the first; it grows with the drift.
It is taken over the per-chunk metrics that are positive quantities: sharpness, lightness (L*), contrast (the
spread of L*), motion and loudness (linear RMS); a metric whose first chunk measures 0 has no VDE (listed in
``skipped``).
"""

from __future__ import annotations

import math

import numpy as np

from .chunks import ChunkLayout

VDE_METRICS = ("sharpness", "lightness", "contrast", "motion", "loudness_rms")


def vde(values: list[float], weights: str = "linear") -> float:
    """The Video Drift Error of per-chunk values ``m_1..m_N`` (``weights``: ``linear`` or ``log``)."""
    n, first = len(values), values[0]
    if first == 0:
        raise ZeroDivisionError("the first chunk's value is 0: its drift is not relative to anything")
    weight = {"linear": lambda i: n - i + 1, "log": lambda i: math.log(n - i + 1)}[weights]
    return float(sum(weight(i) * abs(values[i - 1] - first) / first for i in range(2, n + 1)))


def chunk_stats(layout: ChunkLayout, picture: dict, sound: dict | None, feature_drift: list[float] | None) -> list[dict]:
    """Per chunk: sharpness, colour (L*a*b* means, spread of L*, Delta E from the first chunk), motion, loudness."""
    stats = []
    first_colour = None
    for k, (start, end) in enumerate(layout.ranges):
        lab = picture["lab_mean"][start:end].mean(0)
        first_colour = lab if first_colour is None else first_colour
        moving = picture["motion"][start + 1 : end]  # pairs inside the chunk, not the one across its first boundary
        entry = {
            "index": k,
            "frames": [start, end],
            "sharpness": float(picture["sharpness"][start:end].mean()),
            "lightness": float(lab[0]),
            "a": float(lab[1]),
            "b": float(lab[2]),
            "contrast": float(picture["lab_spread"][start:end, 0].mean()),
            "delta_e_from_first": float(np.linalg.norm(lab - first_colour)),
            "motion": float(np.nanmean(moving)) if len(moving) else 0.0,
            "loudness_dbfs": None,
            "loudness_rms": None,
        }
        if sound is not None:
            rms = math.sqrt(sound["energy"][start:end].sum() / max(1, sound["samples"][start:end].sum()))
            entry.update(loudness_rms=rms, loudness_dbfs=20 * math.log10(rms) if rms > 1e-5 else -100.0)
        if feature_drift is not None:
            entry["feature_drift"] = feature_drift[k]
        stats.append(entry)
    return stats


def drift_errors(chunks: list[dict]) -> dict:
    """``{"linear": {metric: VDE}, "log": {...}, "skipped": {metric: why}}`` over the chunks' metrics."""
    out: dict = {"chunks": len(chunks), "linear": {}, "log": {}, "skipped": {}}
    for metric in VDE_METRICS:
        values = [c[metric] for c in chunks]
        if any(v is None for v in values):
            out["skipped"][metric] = "no audio stream"
        elif values[0] == 0:
            out["skipped"][metric] = "the first chunk measures 0"
        else:
            for weights in ("linear", "log"):
                out[weights][metric] = vde(values, weights)
    return out
