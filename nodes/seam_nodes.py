"""Seam Report: the seams and drift of a chained video, as text, JSON and a plot (``ltx2.seams``)."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import torch

from ..ltx2.errors import InputError
from ..ltx2.seams import measure_seams
from ..ltx2.seams.chunks import DEFAULT_CHUNK_FRAMES, DEFAULT_TAIL_FRAMES
from ..ltx2.seams.plot import plot_image
from .host import CATEGORY, NODE_PREFIX, io


def _video_source(video, video_path: str):
    """What PyAV opens: a VIDEO input (a file-backed ComfyUI video, or the path the standalone sampler returns) or
    the path widget. Returns (source, temporary file to remove or None)."""
    if video is None:
        if not video_path.strip():
            raise InputError([("video", "connect a VIDEO (e.g. the Chain Sampler's) or give video_path")])
        return Path(video_path.strip()), None
    if isinstance(video, (str, os.PathLike)):
        return Path(video), None
    if hasattr(video, "get_stream_source"):  # ComfyUI's VideoFromFile: a path or an in-memory file
        return video.get_stream_source(), None
    if hasattr(video, "save_to"):  # any other ComfyUI VIDEO: written out once
        handle, name = tempfile.mkstemp(suffix=".mp4")
        os.close(handle)
        video.save_to(name)
        return Path(name), Path(name)
    raise InputError([("video", f"cannot read a {type(video).__name__}; connect a VIDEO or give video_path")])


class SeamReport(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id=NODE_PREFIX + "SeamReport",
            display_name="Seam Report (LTX-2 Chain)",
            category=CATEGORY,
            description=(
                "Measures how much each chunk boundary of a chained video shows (frame change, colour, structure, sound, "
                "and optionally a vision model's features, each against the frames around it) and how the look drifts "
                "from chunk to chunk (Video Drift Error). Score about 1: no different from its surroundings; 3 or more: a seam."
            ),
            inputs=[
                io.Video.Input("video", optional=True, tooltip="The chained video (e.g. the Chain Sampler's VIDEO). Wins over video_path."),
                io.String.Input("video_path", default="", optional=True, tooltip="Or the path of a video file."),
                io.String.Input("plan_json", default="", multiline=True, optional=True, tooltip="The Chain Sampler's plan_json: where the boundaries are. Empty: chunk_frames and tail_frames."),
                io.Int.Input("chunk_frames", default=DEFAULT_CHUNK_FRAMES, min=9, max=1025, step=8, optional=True, tooltip="Without plan_json: frames per chunk the video was rendered with (8k+1)."),
                io.Int.Input("tail_frames", default=DEFAULT_TAIL_FRAMES, min=1, max=1017, step=8, optional=True, tooltip="Without plan_json: tail frames the video was rendered with (8k+1)."),
                io.String.Input("feature_model", default="", optional=True, tooltip="Optional: a local vision model folder (CLIP, DINOv2...) for feature consistency. Empty: skipped. Never downloaded."),
            ],
            outputs=[
                io.String.Output("report", tooltip="The report as text: each boundary's score and symptoms, each chunk's statistics, VDE."),
                io.String.Output("report_json", tooltip="The report as JSON: boundaries [{frame, score, ...}], chunks, vde."),
                io.Image.Output("plot", tooltip="The per-frame signals over time with the boundaries marked and the worst seam highlighted [1, H, W, 3]."),
            ],
            is_output_node=True,
        )

    @classmethod
    def execute(cls, video=None, video_path="", plan_json="", chunk_frames=DEFAULT_CHUNK_FRAMES, tail_frames=DEFAULT_TAIL_FRAMES, feature_model=""):
        source, temporary = _video_source(video, video_path or "")
        try:
            planned = bool(plan_json and plan_json.strip())
            report = measure_seams(
                source,
                plan=plan_json if planned else None,
                chunk_frames=None if planned else chunk_frames,
                tail_frames=None if planned else tail_frames,
                feature_model=(feature_model or "").strip() or None,
            )
        finally:
            if temporary is not None:
                temporary.unlink(missing_ok=True)
        text = report.text()
        plot = torch.from_numpy(plot_image(report)).float().div(255)[None]
        return io.NodeOutput(text, json.dumps(report.to_dict()), plot, ui={"text": [text]})


NODES = [SeamReport]
