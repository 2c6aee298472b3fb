"""Decode and save nodes: LATENT -> IMAGE / AUDIO with the model's VAEs, and IMAGE (+ AUDIO) -> a streamed MP4.

Video decoding is tiled and streamed (one temporal tile at a time, straight into the output batch), and the
saver converts and encodes a slice of frames at a time on a background thread, so neither ever holds a second
full-size copy of the video.
"""

from __future__ import annotations

import torch

from ..ltx2.chain.plan import MAX_FPS, as_fps, sample_at_frame
from ..ltx2.media.background import BackgroundSink
from ..ltx2.memory.planner import Geometry
from ..ltx2.media.mp4 import Mp4Writer
from ..ltx2.model.vae_tiling import AxisTiling, VideoTiling, decode_frames
from . import host
from .chain_model import ModelType, prepared
from .host import CATEGORY, NODE_PREFIX, io
from .outputs import video_target

MEDIA = CATEGORY + "/media"
SAVE_SLICE_FRAMES = 16
"""Frames converted and handed to the encoder at a time by Save Video."""


def _samples(latent: dict, what: str, dims: int) -> torch.Tensor:
    samples = latent.get("samples") if isinstance(latent, dict) else None
    if not isinstance(samples, torch.Tensor) or getattr(samples, "is_nested", False) or samples.dim() != dims:
        raise ValueError(f"{what}: expected a LATENT with {dims}-D samples (separate a combined audio-video latent first)")
    return samples


class DecodeVideo(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id=NODE_PREFIX + "DecodeVideo",
            display_name="Decode Video (LTX-2 Chain)",
            category=MEDIA,
            description=(
                "Decodes a video LATENT to frames with the model's video VAE, tile by tile: memory stays bounded by "
                "one tile however long or large the video. Tiles are blended where they overlap."
            ),
            inputs=[
                ModelType.Input("model", tooltip="The model whose VAE made the latent."),
                io.Latent.Input("video_latent", tooltip="A video latent {samples: [B, 128, F', H/32, W/32]} (Clip Sampler, or ComfyUI's LTX-2 latents)."),
                io.Int.Input("tile_size", default=768, min=0, max=4096, step=32, tooltip="Spatial tile size in pixels (a multiple of 32, at least 64); 0 decodes the whole frame at once."),
                io.Int.Input("temporal_tile", default=80, min=0, max=1024, step=8, tooltip="Frames decoded per temporal tile (a multiple of 8, at least 16); 0 decodes all frames at once."),
                io.Int.Input("tile_overlap", default=64, min=0, max=1024, step=32, optional=True, tooltip="Overlap of spatial tiles in pixels (a multiple of 32, smaller than tile_size)."),
                io.Int.Input("temporal_overlap", default=24, min=0, max=512, step=8, optional=True, tooltip="Overlap of temporal tiles in frames (a multiple of 8, smaller than temporal_tile)."),
            ],
            outputs=[io.Image.Output("images", tooltip="The frames [B*F, H, W, 3], F = 8(F'-1)+1 per latent of the batch.")],
        )

    @classmethod
    def execute(cls, model, video_latent, tile_size, temporal_tile, tile_overlap=64, temporal_overlap=24):
        samples = _samples(video_latent, "video_latent", 5)
        space = AxisTiling(tile_size, tile_overlap if tile_size else 0)
        tiling = VideoTiling(AxisTiling(temporal_tile, temporal_overlap if temporal_tile else 0), space, space)
        b, _, lf, lh, lw = samples.shape
        frames = 8 * (lf - 1) + 1
        with prepared(model, Geometry(32 * lw, 32 * lh, frames, 1)) as models, models.phase("decode", only=("video_decoder",)):
            if samples.shape[1] != models.latent_channels:
                raise ValueError(f"video_latent: {samples.shape[1]} channels, this model's video VAE takes {models.latent_channels}")
            images = torch.empty(b * frames, 32 * lh, 32 * lw, 3)
            done = 0
            for i in range(b):
                for piece in decode_frames(models.video_decoder, samples[i : i + 1].to(models.device, models.dtype), tiling):
                    images[done : done + len(piece)] = piece.cpu()
                    done += len(piece)
        return io.NodeOutput(images)


class DecodeAudio(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id=NODE_PREFIX + "DecodeAudio",
            display_name="Decode Audio (LTX-2 Chain)",
            category=MEDIA,
            description="Decodes an audio LATENT to a waveform with the model's audio VAE and vocoder (24 kHz on LTX-2, 48 kHz on LTX-2.3).",
            inputs=[
                ModelType.Input("model", tooltip="The model whose audio VAE made the latent."),
                io.Latent.Input("audio_latent", tooltip="An audio latent {samples: [B, z, T, 16], type: 'audio'} (Clip Sampler, or ComfyUI's LTX-2 audio latents)."),
            ],
            outputs=[io.Audio.Output("audio", tooltip="The sound {waveform [B, 2, S], sample_rate}.")],
        )

    @classmethod
    def execute(cls, model, audio_latent):
        samples = _samples(audio_latent, "audio_latent", 4)
        with prepared(model) as models, models.phase("decode", only=("audio_decoder", "vocoder")):
            z = models.audio.decoder.cfg.z_channels
            if samples.shape[1] != z:
                raise ValueError(f"audio_latent: {samples.shape[1]} channels, this model's audio VAE takes {z}")
            waveform, rate = models.audio.decode_audio(samples.to(models.device, models.dtype))
        return io.NodeOutput({"waveform": waveform.cpu(), "sample_rate": rate})


class SaveVideo(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id=NODE_PREFIX + "SaveVideo",
            display_name="Save Video (LTX-2 Chain)",
            category=MEDIA,
            description=(
                "Writes frames and sound to an MP4 (H.264 + AAC) in the output folder, a slice of frames at a time on a "
                "background encoder. The file appears under its final name only when complete."
            ),
            inputs=[
                io.Image.Input("images", tooltip="The frames [F, H, W, 3] (width and height even)."),
                io.Audio.Input("audio", optional=True, tooltip="Optional sound (mono or stereo; the first of a batch). Cut to the video's length."),
                io.Float.Input("fps", default=24.0, min=1.0, max=float(MAX_FPS), step=0.001, tooltip="Frame rate of the video."),
                io.String.Input("filename_prefix", default="ltx2chain/clip", tooltip="Output name inside the output folder (subfolders allowed): <prefix>_00001_.mp4."),
                io.Int.Input("crf", default=18, min=0, max=51, optional=True, tooltip="H.264 quality: lower is better and larger (18 is visually lossless, 23 is x264's default)."),
            ],
            outputs=[io.Video.Output("video", tooltip="The saved MP4 (standard VIDEO: Preview Video and the like take it).")],
            hidden=[io.Hidden.unique_id],
            is_output_node=True,
        )

    @classmethod
    def execute(cls, images, fps, filename_prefix, crf=18, audio=None):
        rate = as_fps(fps)
        frames = images[..., :3]
        if frames.shape[1] % 2 or frames.shape[2] % 2:
            raise ValueError(f"images: H.264 needs an even width and height, got {frames.shape[2]}x{frames.shape[1]}")
        waveform, sample_rate = (audio["waveform"][0], int(audio["sample_rate"])) if audio is not None else (None, None)
        target = video_target(filename_prefix)
        run_host = host.make_host(cls.hidden.unique_id if cls.hidden is not None else None)
        sink = BackgroundSink(Mp4Writer(target.path, crf=crf))
        sink.open(rate, len(frames))
        try:
            for start in range(0, len(frames), SAVE_SLICE_FRAMES):
                run_host.check_cancel()
                end = min(start + SAVE_SLICE_FRAMES, len(frames))
                sound = None if waveform is None else waveform[:, sample_at_frame(start, rate, sample_rate) : sample_at_frame(end, rate, sample_rate)]
                sink.write(sink.prepare(frames[start:end], sound), sample_rate)
        except BaseException:
            sink.abort()
            raise
        path = sink.commit()
        video = host.video_output(path) if host.IN_COMFYUI else path
        ui = {"images": [{"filename": path.name, "subfolder": target.subfolder, "type": "output"}], "animated": [True]}
        return io.NodeOutput(video, ui=ui)


NODES = [DecodeVideo, DecodeAudio, SaveVideo]
