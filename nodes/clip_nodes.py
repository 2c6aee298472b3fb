"""Single-clip nodes: encode a prompt once, render one clip to video and audio LATENTs.

The clip is rendered by the engine's chunk renderer (``render_clip``: a one-chunk plan), so it matches a chain's
first chunk given the same prompt, seed and first-frame image. The LATENTs use ComfyUI's LTX-2 layouts: video
``{"samples": [B, 128, F', H/32, W/32]}`` and audio ``{"samples": [B, z, T, 16], "type": "audio"}``.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..ltx2.chain.plan import MAX_CLIP_FRAMES, MAX_FPS, MIN_CLIP_FRAMES
from ..ltx2.chain.schedule import MAX_SEED
from ..ltx2.pipeline.clip import render_clip
from ..ltx2.pipeline.settings import SAMPLERS, RenderSettings, full_schedule
from ..ltx2.text.encoder import TextConditioning
from . import host
from .chain_model import ModelType, prepared
from .host import CATEGORY, NODE_PREFIX, io
from .sampler import GUIDANCE_MODES

CLIP = CATEGORY + "/single clip"
ConditioningType = io.Custom("LTX2CHAIN_CONDITIONING")


@dataclass(frozen=True)
class ClipConditioning:
    """LTX2CHAIN_CONDITIONING: a prompt (and negative prompt) with their encoded video / audio contexts."""

    model_name: str
    """The model that encoded it (``LTXModels.name``): contexts only fit the connectors that made them."""
    prompt: str
    negative_prompt: str
    positive: TextConditioning
    negative: TextConditioning | None
    """None when the negative prompt is empty (encoded at sampling time if guidance needs it)."""


class TextEncode(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id=NODE_PREFIX + "TextEncode",
            display_name="Text Encode (LTX-2 Chain)",
            category=CLIP,
            description=(
                "Encodes a prompt (and an optional negative prompt) with the model's Gemma 3 text encoder and "
                "connectors, once, for the Clip Sampler. Re-running the sampler with another seed or size reuses it."
            ),
            inputs=[
                ModelType.Input("model", tooltip="The model from Load LTX-2 Model or Demo Model."),
                io.String.Input("prompt", default="", multiline=True, tooltip="What the clip shows and sounds like."),
                io.String.Input("negative_prompt", default="", multiline=True, optional=True, tooltip="What to steer away from; used only when guidance is on (full-model schedules, or a cfg scale above 1)."),
            ],
            outputs=[ConditioningType.Output("conditioning", tooltip="The encoded prompts, for the Clip Sampler of the same model.")],
        )

    @classmethod
    def execute(cls, model, prompt, negative_prompt=""):
        with prepared(model) as models, models.phase("text"):
            positive, negative = models.prompts.get(prompt, negative_prompt if negative_prompt.strip() else None)
        keep = lambda c: None if c is None else c.to("cpu")  # noqa: E731 -- cached outputs stay off the GPU
        return io.NodeOutput(ClipConditioning(models.name, prompt, negative_prompt, keep(positive), keep(negative)))


class ClipSampler(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id=NODE_PREFIX + "ClipSampler",
            display_name="Clip Sampler (LTX-2 Chain)",
            category=CLIP,
            description=(
                "Renders one clip with sound (text-to-video, or image-to-video with a first-frame image) and returns "
                "its video and audio LATENTs; decode them with Decode Video and Decode Audio. For videos longer "
                "than one clip use the Chain Sampler."
            ),
            inputs=[
                ModelType.Input("model", tooltip="The model from Load LTX-2 Model or Demo Model (with any runtime LoRAs at their scale)."),
                ConditioningType.Input("conditioning", optional=True, tooltip="Prompts from Text Encode (same model). When linked, the prompt widget is ignored."),
                io.String.Input("prompt", default="", multiline=True, tooltip="The prompt, used when no conditioning is linked."),
                io.Image.Input("image", optional=True, tooltip="Optional first-frame image (image-to-video); scaled to cover the size and centre-cropped. Only the first image of a batch is used."),
                io.Float.Input("image_strength", default=1.0, min=0.0, max=1.0, step=0.05, tooltip="How firmly the first frame holds the image (1 = exactly). Ignored without an image."),
                io.Int.Input("width", default=768, min=64, max=4096, step=32, tooltip="Video width in pixels (a multiple of 32)."),
                io.Int.Input("height", default=512, min=64, max=4096, step=32, tooltip="Video height in pixels (a multiple of 32)."),
                io.Int.Input("frames", default=121, min=MIN_CLIP_FRAMES, max=MAX_CLIP_FRAMES, step=8, tooltip="Length in frames: 8k+1 (97, 121, 161, ...)."),
                io.Float.Input("fps", default=24.0, min=1.0, max=float(MAX_FPS), step=0.001, tooltip="Frame rate; it sets the clip's time axis (motion speed, audio length)."),
                io.Int.Input("seed", default=0, min=0, max=MAX_SEED, control_after_generate=True, tooltip="Seed of the noise."),
                io.Int.Input("steps", default=0, min=0, max=200, optional=True, tooltip="Denoise steps. 0: the distilled 8-step schedule (distilled checkpoints, or dev + distilled LoRA). Above 0: the full models' schedule with that many steps (e.g. 30)."),
                io.Combo.Input("guidance", options=list(GUIDANCE_MODES), default="auto", optional=True, tooltip="Guidance when cfg is 0: 'reference' = the reference pipelines' CFG + STG + modality guidance, 'off' = one pass per step, 'auto' = off on the distilled schedule, reference otherwise."),
                io.Float.Input("cfg", default=0.0, min=0.0, max=100.0, step=0.1, optional=True, tooltip="A plain CFG scale on video and audio instead of the guidance mode (0 = use the guidance mode, 1 = no guidance)."),
                io.Combo.Input("sampler", options=list(SAMPLERS), default="auto", optional=True, tooltip="The denoise step. 'auto': what the reference pipelines use for the loaded model (ancestral Euler on LTX-2.5's distilled first stage, Euler otherwise); 'euler'; 'ancestral' (part of each step re-noised with seeded noise)."),
            ],
            outputs=[
                io.Latent.Output("video_latent", tooltip="The video latent {samples: [1, 128, F', H/32, W/32]} (ComfyUI's LTX-2 layout)."),
                io.Latent.Output("audio_latent", tooltip="The audio latent {samples: [1, z, T, 16], type: 'audio'} (ComfyUI's LTX-2 layout)."),
            ],
            hidden=[io.Hidden.unique_id],
        )

    @classmethod
    def execute(cls, model, prompt, image_strength, width, height, frames, fps, seed, steps=0, guidance="auto", cfg=0.0, sampler="auto", conditioning=None, image=None):
        settings = RenderSettings(width=width, height=height, sigmas=full_schedule(steps) if steps else RenderSettings.sigmas, guidance=guidance, sampler=sampler)
        node_id = cls.hidden.unique_id if cls.hidden is not None else None
        with prepared(model, settings.geometry(frames, 1, fps)) as models:
            if conditioning is not None:
                if conditioning.model_name != models.name:
                    raise ValueError("conditioning: it was encoded by another model; encode the prompt with this sampler's model")
                prompt = conditioning.prompt
                models.prompts.put(conditioning.prompt, conditioning.positive)
                if conditioning.negative is not None:
                    models.prompts.put(conditioning.negative_prompt, conditioning.negative)
            latents = render_clip(
                models,
                settings,
                frames=frames,
                fps=fps,
                prompt=prompt,
                negative_prompt="" if conditioning is None else conditioning.negative_prompt,
                seed=seed,
                guidance=cfg or None,
                first_frame=image,
                first_frame_strength=image_strength,
                host=host.make_host(node_id),
            )
        return io.NodeOutput({"samples": latents["video"]}, {"samples": latents["audio"], "type": "audio"})


NODES = [TextEncode, ClipSampler]
