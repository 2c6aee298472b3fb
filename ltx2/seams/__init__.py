"""Seams and drift of a chained video, measured: per boundary, per chunk, and Video Drift Error over the chunks.

    from ltx2.seams import measure_seams
    report = measure_seams("chain.mp4", plan=plan_json)   # or chunk_frames=121, tail_frames=25
    report.to_dict(); report.text()
    from ltx2.seams.plot import save_plot; save_plot(report, "seams.png")

Modules: ``source`` (PyAV reading, streamed and downscaled), ``picture`` and ``sound`` (per-frame signals),
``chunks`` (where the boundaries are), ``boundaries`` (each boundary against its surroundings, the score),
``drift`` (per-chunk statistics, VDE), ``features`` (optional vision-model consistency), ``report``, ``plot``.
"""

from .boundaries import SEAM_SCORE
from .report import SeamReport, measure_seams

__all__ = ["SEAM_SCORE", "SeamReport", "measure_seams"]
