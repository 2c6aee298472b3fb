"""How each chunk boundary compares with the frames around it: one ratio per symptom, and the boundary's score.

Every measure is taken at the boundary and at every other place inside the two chunks that meet there (not
crossing any boundary); its ratio is (at the boundary + floor) / (median inside + floor), so 1 means "no
different from the surroundings". The floors keep a still, silent or flat video from turning noise into large
ratios: 1 code value of frame difference, 1 Lab unit (about a just-noticeable colour difference), 0.01 of SSIM
dissimilarity, 1 dB of level, 0.05 of spectral flux, 0.01 of full scale for a sample step, 0.01 of feature
cosine distance.

* frame difference: the boundary pair's mean absolute difference; two-sided, since a frozen frame (a repeated
  picture, no change at all) is as much a seam as a jump. ``still_frames`` counts the unchanged frames there.
* colour: the CIE Lab mean (``lab_shift``: Delta E between the medians of the ``window`` frames before and after)
  and spread (``lab_spread_shift``), compared with the same step at every place inside the chunks: a change spread
  over a few frames (a crossfaded seam) is measured whole, a slow drift is not a seam.
* structure: SSIM dissimilarity (1 - SSIM) of the boundary pair.
* sound: level jump (dB), spectral flux and the largest sample step (``audio_click``), each taken as the larger of
  the two video frames that meet at the boundary (a click may land one sample early).
* features (when a vision model is given): the cosine distance of the two frames' embeddings.

``score`` is the largest of the ratios (``worst_metric`` names it): about 1 where nothing changes at the
boundary more than it does around it; ``seam`` marks scores of :data:`SEAM_SCORE` or more.
"""

from __future__ import annotations

import numpy as np

from .chunks import ChunkLayout

SEAM_SCORE = 3.0
"""A boundary scoring this or more shows a seam."""
WINDOW_FRAMES = 8
"""Frames on each side whose median colour the colour step compares (shorter when a chunk is shorter)."""
STILL_FRACTION = 0.2
"""A frame 'stands still' when it differs from the previous by less than this part of the chunks' usual change."""
AUDIO_FIELDS = ("audio_rms_jump_db", "audio_rms_jump_within_db", "audio_rms_ratio", "audio_flux", "audio_flux_within", "audio_flux_ratio",
                "audio_click", "audio_click_within", "audio_click_ratio")  # fmt: skip
"""The sound fields of a boundary (None without sound)."""
FLOORS = {"frame_diff": 1.0, "lab": 1.0, "lab_spread": 1.0, "ssim": 0.01, "audio_rms": 1.0, "audio_flux": 0.05, "audio_click": 0.01, "feature": 0.01}


def _median(values: np.ndarray) -> float:
    values = values[np.isfinite(values)]
    return float(np.median(values)) if len(values) else 0.0


def _ratio(at: float, within: float, floor: float) -> float:
    return (at + floor) / (within + floor)


def _contrast(values: np.ndarray, frame: int, before: tuple[int, int], after: tuple[int, int], reach: int = 0) -> tuple[float, float]:
    """(value at the boundary, median inside the two chunks) of a signal whose index i compares frame i-1 with i;
    ``reach`` 1 takes each place as the larger of it and the place before."""
    local = values if reach == 0 else np.fmax(values, np.concatenate([[np.nan], values[:-1]]))
    inside = np.concatenate([local[before[0] + 1 + reach : frame - reach], local[frame + 1 + reach : after[1]]])
    return float(local[frame]), _median(inside)


def _step(series: np.ndarray, place: int, window: int) -> np.ndarray:
    return np.median(series[place : place + window], axis=0) - np.median(series[place - window : place], axis=0)


def _window_contrast(series: np.ndarray, frame: int, before: tuple[int, int], after: tuple[int, int], window: int) -> tuple[np.ndarray, float, float]:
    """(the step vector at the boundary, its length, the median step length at places inside the two chunks)."""
    w = max(1, min(window, frame - before[0], after[1] - frame))
    places = [*range(before[0] + w, frame - w + 1), *range(frame + w, after[1] - w + 1)]
    inside = np.array([np.linalg.norm(_step(series, p, w)) for p in places])
    step = _step(series, frame, w)
    return step, float(np.linalg.norm(step)), _median(inside)


def _still_run(difference: np.ndarray, frame: int, usual: float) -> int:
    """Unchanged frames in a row from the boundary on (0 when the chunks barely move anyway)."""
    if usual < FLOORS["frame_diff"]:
        return 0
    run, i = 0, frame
    while i < len(difference) and difference[i] <= STILL_FRACTION * usual:
        run, i = run + 1, i + 1
    return run


def score_boundary(
    layout: ChunkLayout, index: int, picture: dict, sound: dict | None, features: np.ndarray | None, fps: float, window: int = WINDOW_FRAMES
) -> dict:
    """The report of the boundary between chunk ``index`` and ``index + 1`` (signals as ``arrays()`` give them)."""
    before, after = layout.ranges[index], layout.ranges[index + 1]
    frame = after[0]
    diff, diff_within = _contrast(picture["difference"], frame, before, after)
    lab_step, lab, lab_within = _window_contrast(picture["lab_mean"], frame, before, after, window)
    _, spread, spread_within = _window_contrast(picture["lab_spread"], frame, before, after, window)
    similarity, similarity_within = _contrast(picture["similarity"], frame, before, after)
    diff_ratio = _ratio(diff, diff_within, FLOORS["frame_diff"])
    ratios = {
        "frame_diff": max(diff_ratio, 1 / diff_ratio),
        "lab": _ratio(lab, lab_within, FLOORS["lab"]),
        "lab_spread": _ratio(spread, spread_within, FLOORS["lab_spread"]),
        "ssim": _ratio(1 - similarity, 1 - similarity_within, FLOORS["ssim"]),
    }
    report = {
        "time_s": frame / fps,
        "chunk_before": index,
        "chunk_after": index + 1,
        "frame_diff": diff,
        "frame_diff_within": diff_within,
        "frame_diff_ratio": diff_ratio,
        "still_frames": _still_run(picture["difference"], frame, diff_within),
        "lab_shift": lab,
        "lab_delta": [float(v) for v in lab_step],
        "lab_shift_within": lab_within,
        "lab_ratio": ratios["lab"],
        "lab_spread_shift": spread,
        "lab_spread_within": spread_within,
        "lab_spread_ratio": ratios["lab_spread"],
        "ssim": similarity,
        "ssim_within": similarity_within,
        "ssim_ratio": ratios["ssim"],
    }
    audio = dict.fromkeys(AUDIO_FIELDS)
    if sound is not None:
        jumps = np.abs(np.diff(sound["level_db"], prepend=np.nan))
        for name, values, field, unit in (("audio_rms", jumps, "audio_rms_jump", "_db"), ("audio_flux", sound["flux"], "audio_flux", ""),
                                          ("audio_click", sound["click"], "audio_click", "")):  # fmt: skip
            at, within = _contrast(values, frame, before, after, reach=1)
            ratios[name] = _ratio(at, within, FLOORS[name])
            audio.update({f"{field}{unit}": at, f"{field}_within{unit}": within, f"{name}_ratio": ratios[name]})
    report.update(audio)
    if features is not None:
        at, within = _contrast(features, frame, before, after)
        ratios["feature"] = _ratio(at, within, FLOORS["feature"])
        report.update({"feature_distance": at, "feature_distance_within": within, "feature_ratio": ratios["feature"]})
    worst = max(ratios, key=ratios.get)
    return {"frame": frame, "score": ratios[worst], "seam": ratios[worst] >= SEAM_SCORE, "worst_metric": worst, **report}


def score_boundaries(layout: ChunkLayout, picture: dict, sound: dict | None, features: np.ndarray | None, fps: float, window: int = WINDOW_FRAMES) -> list[dict]:
    return [score_boundary(layout, i, picture, sound, features, fps, window) for i in range(len(layout.ranges) - 1)]
