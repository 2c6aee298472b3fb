"""The chain sampler: renders a whole chain with an LTX-2 model and writes the MP4 as it goes."""

from __future__ import annotations

import json
import logging

import torch

from ..ltx2.chain.plan import as_fps
from ..ltx2.chain.report import plan_report
from ..ltx2.chain.schedule import ChunkSchedule
from ..ltx2.errors import InputError
from ..ltx2.media.soundtrack import Soundtrack
from ..ltx2.media.source_video import SourceVideo
from ..ltx2.memory.activations import MIN_TILE_FRAMES, MIN_TILE_PIXELS, fixed_tiling
from ..ltx2.model.vae_tiling import VideoTiling
from ..ltx2.options import TRACK_ENDS
from ..ltx2.pipeline.guides import MediaGuides
from ..ltx2.pipeline.images import load_image
from ..ltx2.pipeline.run import render_chain
from ..ltx2.pipeline.settings import HANDOFF_MODES, SAMPLERS, RenderSettings, full_schedule
from . import host
from .chain_model import ModelType, prepared
from .host import ADVANCED, CATEGORY, NODE_PREFIX, io
from .outputs import video_target
from .plan_preview import plan_from_inputs, plan_inputs
from .schedule_nodes import Schedule, ScheduleInput, check_schedule_json

log = logging.getLogger(__name__)

GUIDANCE_MODES = ("auto", "off", "reference")
FRAMES_OFF = "return_frames is off on the chain sampler: turn it on to get the frames and audio in memory (the MP4 is written either way)"
LARGE_MEMORY_BYTES = 4 * 2**30


def _schedule(linked: ScheduleInput | None, text: str) -> ScheduleInput:
    """The linked SCHEDULE when there is one, else the JSON widget's."""
    if linked is not None:
        return linked
    return ScheduleInput(ChunkSchedule.parse(text) if text.strip() else ChunkSchedule())


def _anchor_images(source: ScheduleInput) -> dict:
    """Images by the names the schedule's anchors use: those plugged in by Anchor nodes, and inside ComfyUI the
    files the timeline editor picked from the input folder (standalone, the renderer reads names as paths)."""
    images = dict(source.images)
    if host.IN_COMFYUI:
        for anchor in source.schedule.anchors:
            if anchor.image not in images:
                images[anchor.image] = load_image(host.input_file(anchor.image))
    return images


def _tiling(tile_size: int, temporal_tile: int) -> VideoTiling | str:
    """The decode tiling of the tile inputs: ``auto`` when both are 0, else tiles of the given sizes with the
    automatic choice's overlaps (an axis left at 0 takes the reference default's 768 px / 80 frames)."""
    if not tile_size and not temporal_tile:
        return "auto"
    limits = (("tile_size", tile_size, MIN_TILE_PIXELS), ("temporal_tile", temporal_tile, MIN_TILE_FRAMES))
    small = [(name, f"0 (automatic) or at least {least}, got {value}") for name, value, least in limits if 0 < value < least]
    if small:
        raise InputError(small)
    return fixed_tiling(tile_size, temporal_tile)


def _guides(soundtrack: dict | None, source_video, audio_end: str) -> MediaGuides:
    """The soundtrack (the first of an AUDIO batch) and source frames connected to the sampler."""
    track = None
    if soundtrack is not None:
        waveform = soundtrack.get("waveform") if isinstance(soundtrack, dict) else None
        if not isinstance(waveform, torch.Tensor) or waveform.dim() != 3 or "sample_rate" not in soundtrack:
            raise InputError([("soundtrack", "expected an AUDIO {waveform [batch, channels, samples], sample_rate} (e.g. from Load Audio)")])
        track = Soundtrack(waveform[0], int(soundtrack["sample_rate"]), name="soundtrack", end=audio_end)
    return MediaGuides(track, None if source_video is None else SourceVideo.from_frames(source_video, "source_video"))


class ChainSampler(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id=NODE_PREFIX + "ChainSampler",
            display_name="Chain Sampler (LTX-2 Chain)",
            category=CATEGORY,
            description=(
                "Renders a long video with sound as a chain of chunks, each continuing from the previous chunk's tail, "
                "and writes the MP4 to the output folder chunk by chunk. Per-chunk prompts, seeds, LoRA scales and "
                "anchor images come from the schedule. Rendered chunks are kept under output/ltx2chain_runs/<prefix>: "
                "queueing the same chain again (after a cancel, a crash or a change to later chunks) resumes from them."
            ),
            inputs=[
                ModelType.Input("model", tooltip="The model from Load LTX-2 Model or Demo Model (with any runtime LoRAs)."),
                Schedule.Input("schedule_in", display_name="schedule", optional=True, tooltip="A schedule built with the schedule nodes. When linked it wins and the schedule JSON widget is ignored."),
                io.String.Input("schedule", default="", multiline=True, tooltip="The schedule as JSON (edited on the timeline in the UI; headless clients send it directly). Used when no schedule is linked; empty means one prompt-less default schedule."),
                *plan_inputs(),
                io.Int.Input("width", default=768, min=64, max=4096, step=32, tooltip="Video width in pixels (a multiple of 32)."),
                io.Int.Input("height", default=512, min=64, max=4096, step=32, tooltip="Video height in pixels (a multiple of 32)."),
                io.Combo.Input("handoff", options=list(HANDOFF_MODES), default="reencode", tooltip="How a chunk's tail reaches the next chunk: 'reencode' decodes it and encodes it again on the next chunk's time axis (exact); 'latent' carries the latents over (faster).", **ADVANCED),
                io.Float.Input("drift", default=0.0, min=0.0, max=1.0, step=0.05, tooltip="Pull each chunk's colours and contrast toward the first chunk's (0 = off); counters slow drift on long chains.", **ADVANCED),
                io.String.Input("filename_prefix", default="ltx2chain/chain", tooltip="Output name inside the output folder (subfolders allowed): <prefix>_00001_.mp4. The prefix also names the run directory that makes re-queues resume."),
                io.Boolean.Input("keep_partial", default=False, tooltip="If the run fails or is cancelled, keep what was written as <name>.partial.mp4 (playable up to the last chunk).", **ADVANCED),
                io.Boolean.Input("return_frames", default=False, tooltip="Also output every frame (IMAGE) and the audio (AUDIO) in memory. Large: about width x height x 12 bytes per frame (one minute at 768x512, 24 fps is about 6.8 GB).", **ADVANCED),
                io.Int.Input("steps", default=0, min=0, max=200, optional=True, tooltip="Denoise steps per chunk. 0: the distilled 8-step schedule (distilled checkpoints, or dev + distilled LoRA). Above 0: the full models' schedule with that many steps (dev checkpoints without the LoRA, e.g. 30).", **ADVANCED),
                io.Combo.Input("guidance", options=list(GUIDANCE_MODES), default="auto", optional=True, tooltip="Guidance where the schedule sets no scale: 'reference' = the reference pipelines' CFG + STG + modality guidance for this model version, 'off' = one pass per step, 'auto' = off on the distilled schedule, reference otherwise.", **ADVANCED),
                io.Boolean.Input("two_stage", default=False, optional=True, tooltip="Render each chunk at half size, upsample the latent x2 and refine at full size with the distilled stage-2 steps, as the reference pipelines do. Needs the spatial upsampler in the loader; width and height multiples of 64.", **ADVANCED),
                io.Float.Input("anchor_continuations", default=0.0, min=0.0, max=1.0, step=0.05, optional=True, tooltip="Strength of a soft anchor on chunk 0's first-frame image repeated at every later chunk's first frame (0 = off). Can hold identity on LTX-2; pulls every chunk back toward the opening picture.", **ADVANCED),
                io.Boolean.Input("crossfade", default=False, optional=True, tooltip="Each continuation delivers the overlap itself, its first frames blended from the previous chunk's tail into its own content (instead of keeping the previous chunk's frames there). Softens seams when handoff_strength is below 1.", **ADVANCED),
                io.Int.Input("tile_size", default=0, min=0, max=4096, step=32, optional=True, tooltip="Spatial tile size in pixels for decoding (and re-encoding) the video, a multiple of 32, at least 96. 0: automatic, the largest tiles that fit the free device memory when temporal_tile is 0 too, else 768. Smaller tiles use less memory and take longer.", **ADVANCED),
                io.Int.Input("temporal_tile", default=0, min=0, max=1024, step=8, optional=True, tooltip="Frames per temporal tile for decoding (and re-encoding) the video, a multiple of 8, at least 24. 0: automatic, chosen from the free device memory when tile_size is 0 too, else 80. Fewer frames use less memory.", **ADVANCED),
                io.Combo.Input("sampler", options=list(SAMPLERS), default="auto", optional=True, tooltip="The denoise step. 'auto': what the reference pipelines use for the loaded model (ancestral Euler on LTX-2.5's distilled first stage, Euler otherwise); 'euler'; 'ancestral' (part of each step re-noised with seeded noise).", **ADVANCED),
                io.Audio.Input("soundtrack", optional=True, tooltip="A soundtrack to follow (a song, a voice-over; e.g. from Load Audio): every chunk's sound holds it at the schedule's audio_strength (1 = exactly), the video is made to match, and the MP4 carries the track itself."),
                io.Image.Input("source_video", optional=True, tooltip="Frames of a video to restyle (e.g. Get Video Components' images; connect its audio and fps too): each chunk starts from the frames of its span, kept at 1 - the schedule's denoise (set denoise below 1 in Per-Chunk Values or the schedule)."),
                io.Boolean.Input("media_length", default=True, optional=True, tooltip="With a soundtrack or source video connected: render as long as they last (total_frames and seconds are then ignored). Off: the length inputs decide.", **ADVANCED),
                io.Combo.Input("audio_end", options=list(TRACK_ENDS), default="error", optional=True, tooltip="A soundtrack shorter than the video: refuse before rendering ('error'), or go on in silence, or loop the track.", **ADVANCED),
            ],
            outputs=[
                io.Video.Output("video", tooltip="The finished MP4 (standard VIDEO: Save Video, Preview Video and the like take it)."),
                io.Image.Output("images", tooltip="All frames [F, H, W, 3], only with return_frames on."),
                io.Audio.Output("audio", tooltip="The soundtrack {waveform [1, C, S], sample_rate}, only with return_frames on."),
                io.String.Output("plan_json", tooltip="The plan that was rendered, with each chunk's resolved parameters, as JSON."),
            ],
            hidden=[io.Hidden.unique_id],
            is_output_node=True,
        )

    @classmethod
    def validate_inputs(cls, schedule=None):  # only schedule: ComfyUI repeats an error once per input passed here
        return check_schedule_json(schedule)

    @classmethod
    def execute(cls, model, schedule, total_frames, seconds, fps, clip_frames, tail_frames, max_chunks, width, height, handoff, drift, filename_prefix, keep_partial, return_frames, steps=0, guidance="auto", two_stage=False, anchor_continuations=0.0, crossfade=False, tile_size=0, temporal_tile=0, sampler="auto", schedule_in=None,
                soundtrack=None, source_video=None, media_length=True, audio_end="error"):  # fmt: skip
        source = _schedule(schedule_in, schedule)
        guides = _guides(soundtrack, source_video, audio_end)
        if guides and media_length:
            total_frames, seconds = guides.length(as_fps(fps)), 0.0
        plan = plan_from_inputs(total_frames, seconds, fps, clip_frames, tail_frames, max_chunks, crossfade)
        settings = RenderSettings(
            width=width,
            height=height,
            sigmas=full_schedule(steps) if steps else RenderSettings.sigmas,
            handoff=handoff,
            drift=drift,
            guidance=guidance,
            two_stage=two_stage,
            anchor_continuations=anchor_continuations,
            tile=_tiling(tile_size, temporal_tile),
            sampler=sampler,
        )
        target = video_target(filename_prefix)
        held = plan.total_frames * width * height * 12  # float32 RGB frames
        if return_frames and held > LARGE_MEMORY_BYTES:
            log.warning("return_frames: holding %d frames of %dx%d in memory (about %.1f GiB)", plan.total_frames, width, height, held / 2**30)
        node_id = cls.hidden.unique_id if cls.hidden is not None else None
        with prepared(model, settings.geometry(plan.clip_frames, plan.tail_frames, plan.fps)) as models:
            run = render_chain(
                models,
                settings,
                plan,
                source.schedule,
                images=_anchor_images(source),
                out_path=target.path,
                keep_partial=keep_partial,
                run_dir=target.run_dir,
                return_media=return_frames,
                host=host.make_host(node_id),
                guides=guides,
            )
        path, media = run.output if return_frames else (run.output, None)
        blocked = host.blocked_output(FRAMES_OFF) if host.IN_COMFYUI else None
        images = media.frames if media is not None else blocked
        audio = {"waveform": media.audio[None], "sample_rate": media.sample_rate} if media is not None and media.audio is not None else blocked
        video = host.video_output(path) if host.IN_COMFYUI else path
        plan_json = json.dumps(plan_report(plan, source.schedule)[0])
        ui = {"images": [{"filename": path.name, "subfolder": target.subfolder, "type": "output"}], "animated": [True]}
        return io.NodeOutput(video, images, audio, plan_json, ui=ui)

