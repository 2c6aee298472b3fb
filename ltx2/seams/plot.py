"""The seam report as a picture: the per-frame signals over time, the boundaries marked, the worst seam highlighted.

Drawn with matplotlib's Agg canvas (no display, no pyplot state): one panel per signal over a shared time axis;
every boundary is a dashed line (red where it scores as a seam) with its score above the top panel, the worst boundary
a shaded band with its score and the measure that drives it. Each panel's y axis spans at least a set range, so a flat
signal stays flat instead of magnifying its noise.
"""

from __future__ import annotations

import os

import numpy as np

from .boundaries import SEAM_SCORE
from .report import SeamReport


def _figure(report: SeamReport):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    p, s = report.picture, report.sound
    fps = float(report.video.fps)
    t = np.arange(report.frames) / fps
    # (label, least span of the y axis, [(values, name, colour)]): the least span keeps noise from filling a panel
    panels = [
        ("frame difference\n(8-bit codes)", 4.0, [(p["difference"], "mean |change|", "tab:blue")]),
        ("CIE Lab mean", 10.0, [(p["lab_mean"][:, 0], "L*", "black"), (p["lab_mean"][:, 1], "a*", "tab:red"), (p["lab_mean"][:, 2], "b*", "tab:olive")]),
        ("SSIM to the\nprevious frame", 0.1, [(p["similarity"], "SSIM", "tab:purple")]),
        ("sharpness and\nmotion", 1.0, [(p["sharpness"] / max(np.nanmax(p["sharpness"]), 1e-9), "sharpness (of max)", "tab:green"),
                                        (p["motion"], "motion px/frame", "tab:orange")]),
    ]  # fmt: skip
    if s is not None:
        panels.append(("sound level\n(dBFS)", 12.0, [(s["level_db"], "level", "tab:cyan")]))
        panels.append(("sound change", 0.5, [(s["flux"], "spectral flux", "tab:brown"), (s["click"] * 10, "sample step x10", "tab:gray")]))
    figure = Figure(figsize=(12, 1.7 * len(panels) + 1.2), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(len(panels), 1, sharex=True, squeeze=False)[:, 0]
    worst = report.worst
    for ax, (label, span, series) in zip(axes, panels):
        for values, name, colour in series:
            ax.plot(t, values, color=colour, linewidth=1.0, label=name)
        low, high = ax.get_ylim()
        if high - low < span:
            middle = (low + high) / 2
            ax.set_ylim(middle - span / 2, middle + span / 2)
        ax.set_ylabel(label, fontsize=8)
        ax.tick_params(labelsize=8)
        ax.grid(alpha=0.25)
        if len(series) > 1:
            ax.legend(fontsize=7, loc="upper left", ncol=len(series))
        for b in report.boundaries:
            ax.axvline(b["frame"] / fps, color="tab:red" if b["seam"] else "0.55", linestyle="--", linewidth=0.9)
        if worst is not None:
            x = worst["frame"] / fps
            ax.axvspan(x - 1.5 / fps, x + 1.5 / fps, color="red" if worst["seam"] else "gold", alpha=0.25)
    for b in report.boundaries:  # every boundary's score above the top panel
        axes[0].annotate(f"{b['score']:.1f}", xy=(b["frame"] / fps, 1.0), xycoords=("data", "axes fraction"), xytext=(0, 2), textcoords="offset points",
                         ha="center", va="bottom", fontsize=7, color="darkred" if b["seam"] else "0.4")  # fmt: skip
    if worst is not None:
        words = f"worst seam: frame {worst['frame']} ({worst['frame'] / fps:.2f} s), score {worst['score']:.2f} ({worst['worst_metric']})"
        right = worst["frame"] > report.frames / 2
        axes[0].annotate(words if worst["seam"] else f"no seam (scores < {SEAM_SCORE:g}); highest: frame {worst['frame']}, {worst['score']:.2f}",
                         xy=(worst["frame"] / fps, 1.0), xycoords=("data", "axes fraction"), xytext=(-6 if right else 6, -12), textcoords="offset points",
                         ha="right" if right else "left", fontsize=8, color="darkred" if worst["seam"] else "0.3")  # fmt: skip
    axes[-1].set_xlabel("time (s); dashed lines: chunk boundaries (red: seam)", fontsize=8)
    figure.suptitle(f"Seams of {os.path.basename(report.video.name)}: {len(report.layout.ranges)} chunks, {report.frames} frames", fontsize=10)
    return figure


def plot_image(report: SeamReport) -> np.ndarray:
    """The plot as an [H, W, 3] uint8 RGB picture."""
    figure = _figure(report)
    figure.canvas.draw()
    return np.asarray(figure.canvas.buffer_rgba())[..., :3].copy()


def save_plot(report: SeamReport, path: str | os.PathLike) -> None:
    """Write the plot as a PNG."""
    _figure(report).savefig(path, format="png")
