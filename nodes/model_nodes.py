"""Loader nodes: the LTX-2 model with its text encoder, runtime LoRAs, and a tiny demo model."""

from __future__ import annotations

from pathlib import Path

import torch

from ..ltx2.errors import InputError
from ..ltx2.host import default_device, default_dtype
from ..ltx2.loading.model_set import ModelSet
from ..ltx2.model.compile import compile_blocks
from ..ltx2.options import ATTENTION_BACKENDS
from ..ltx2.pipeline.models import demo_models, load_models
from ..ltx2.pipeline.speed import check_attention
from . import host, model_files
from .chain_model import ChainModel, ModelType, RuntimeLora
from .host import ADVANCED, CATEGORY, NODE_PREFIX, io

LOADERS = CATEGORY + "/loaders"
DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32}
WEIGHT_DTYPES = {"default": "auto", "fp8_e4m3fn": "fp8", "full": "full"}
"""The loader's weight_dtype choices -> the engine's ``weights`` modes (ltx2.loading.transformer)."""
DEFAULT_WEIGHTS = "default"
AUTO_TOKENIZER = "auto"
INPUT_NAMES = {"checkpoint": "checkpoint", "vae": "vae", "audio_vae": "audio_vae"}  # vae: never given to the single-file loader
SPLIT_INPUT_NAMES = {"checkpoint": "transformer", "vae": "vae", "audio_vae": "audio_vae"}
"""How the loaders' inputs are named in the model files' error messages."""
NONE = "none"


def _model_out():
    return ModelType.Output("model_out", display_name="model", tooltip="The LTX-2 model for the chain sampler (and for more LoRA loaders).")


def _placement(device: str, dtype: str) -> tuple[torch.device, torch.device, torch.dtype, bool]:
    """(load device, device to load the files to, dtype, whether ComfyUI manages the memory)."""
    if device == "cpu":
        load = offload = torch.device("cpu")
        auto, managed = torch.float32, False
    elif host.IN_COMFYUI:
        load, offload, auto = host.model_placement()
        managed = True
    else:
        load = offload = default_device()
        auto, managed = default_dtype(load), False
    return load, offload, DTYPES.get(dtype, auto), managed


def _common_inputs() -> list:
    """The loaders' inputs after the model files: tokenizer, placement, fused LoRA, upsampler, memory and speed
    options (new inputs go last, so saved workflows' widget values keep their places)."""
    return [
        io.Combo.Input("tokenizer", options=[AUTO_TOKENIZER, *model_files.list_tokenizers()], default=AUTO_TOKENIZER, tooltip="'auto': the tokenizer inside the text encoder's folder or single file. Otherwise a folder in models/text_encoders holding tokenizer.json or tokenizer.model."),
        io.Combo.Input("dtype", options=["auto", *DTYPES], default="auto", tooltip="Compute dtype. 'auto': what ComfyUI picks for this GPU (bf16 on recent NVIDIA cards); fp32 on CPU."),
        io.Combo.Input("device", options=["default", "cpu"], default="default", tooltip="'default': the GPU, managed by ComfyUI. 'cpu': run everything on the CPU (very slow; for tests)."),
        io.Combo.Input("distilled_lora", options=[NONE, *model_files.list_models(model_files.LORAS)], default=NONE, tooltip="A LoRA fused into the weights at load (models/loras), e.g. the distilled LoRA that turns a dev checkpoint into the 8-step distilled model. 'none' for a distilled checkpoint."),
        io.Float.Input("distilled_lora_strength", default=1.0, min=-10.0, max=10.0, step=0.05, tooltip="Strength of the fused LoRA."),
        io.Combo.Input("spatial_upsampler", options=[NONE, *model_files.list_models(model_files.LATENT_UPSCALERS)], default=NONE, tooltip="The x2 spatial latent upsampler of this model version (models/latent_upscale_models, e.g. ltx-2-spatial-upscaler-x2-1.0.safetensors), needed for two-stage rendering. 'none' otherwise."),
        io.Combo.Input("weight_dtype", options=list(WEIGHT_DTYPES), default=DEFAULT_WEIGHTS, optional=True, tooltip=(
            "How the DiT's (and Gemma's) weights are held. 'default': as the file (an fp8 file stays fp8, about 1 byte per "
            "parameter). 'fp8_e4m3fn': quantise a bf16 file's transformer-block weights to fp8 at load (halves their "
            "memory; small quality cost). 'full': everything in the compute dtype (an fp8 file is dequantised: twice "
            "the memory)."
        )),
        io.Int.Input("resident_blocks", default=0, min=0, max=64, optional=True, tooltip=(
            "0: ComfyUI's model management places the DiT (whole, or partially on cards it does not fit; the rest "
            "is cast in layer by layer). N > 0: the pack streams the DiT's 48 blocks itself, keeping N-1 on the GPU "
            "and copying the others in one at a time as they run (at most N+1 on the GPU); slower, for cards or "
            "ComfyUI builds where partial loading is not enough. About 0.4 GiB per block for a bf16 22B model, "
            "0.2 GiB fp8."
        )),
        io.Boolean.Input("compile", default=False, optional=True, tooltip=(
            "Compile the DiT's transformer blocks with torch.compile: the first denoise steps of a run are slower "
            "while they compile (again for a new size or guidance), the later ones faster. Results stay within bf16 "
            "tolerance of the uncompiled model. Part of the resume key: chunks rendered the other way are rendered again."
        ), **ADVANCED),
        io.Combo.Input("attention", options=list(ATTENTION_BACKENDS), default="sdpa", optional=True, tooltip=(
            "The DiT's attention kernel. 'sdpa': PyTorch's own, always available. 'sageattention' (8-bit, "
            "approximate) and 'flash-attn' can be faster; they run on a CUDA GPU in bf16 or fp16 and need their "
            "package installed in ComfyUI's Python (masked attention stays on sdpa). One that is not installed stops "
            "the loader with an error naming this input and the fix: pip install it, or choose sdpa. Part of the "
            "resume key: chunks rendered with another kernel are rendered again."
        ), **ADVANCED),
    ]


def _load(files: ModelSet, tokenizer, dtype, device, distilled_lora, distilled_lora_strength, spatial_upsampler, weight_dtype, resident_blocks, compile, attention) -> ChainModel:
    tok = None if tokenizer == AUTO_TOKENIZER else model_files.resolve(model_files.TEXT_ENCODERS, tokenizer)
    fused = () if distilled_lora == NONE else ((str(model_files.resolve(model_files.LORAS, distilled_lora)), distilled_lora_strength),)
    upsampler = None if spatial_upsampler == NONE else model_files.resolve(model_files.LATENT_UPSCALERS, spatial_upsampler)
    if weight_dtype not in WEIGHT_DTYPES:
        raise ValueError(f"weight_dtype: {weight_dtype!r} is not one of {', '.join(WEIGHT_DTYPES)}")
    load, offload, compute, managed = _placement(device, dtype)
    check_attention(attention, load)  # before the files load; each run of the model switches to it (prepared)
    models = load_models(
        files, tokenizer=tok, device=offload, dtype=compute, fused_loras=fused, spatial_upsampler=upsampler,
        weights=WEIGHT_DTYPES[weight_dtype], operations=host.layer_operations() if managed else None,
    )  # fmt: skip
    if compile:
        compile_blocks(models.transformer)
    managed_modules = host.ManagedModules(models.modules(), load, offload, resident_blocks=resident_blocks) if managed else None
    return ChainModel(models, managed_modules, resident_blocks=resident_blocks, attention=attention)


class ModelLoader(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id=NODE_PREFIX + "ModelLoader",
            display_name="Load LTX-2 Model (LTX-2 Chain)",
            category=LOADERS,
            description=(
                "Loads an official LTX-2 (19B) or LTX-2.3 (22B) single-file checkpoint (DiT, video and audio VAEs, "
                "vocoder, text connectors) together with its Gemma 3 12B text encoder, optionally fusing the distilled "
                "LoRA. Inside ComfyUI the weights wait in RAM and each render phase has ComfyUI's model management "
                "load only what it runs. LTX-2.5 ships split files: use Load LTX-2.5 Model (split files)."
            ),
            inputs=[
                io.Combo.Input("checkpoint", options=model_files.list_models(model_files.CHECKPOINTS), tooltip="The LTX-2 / LTX-2.3 checkpoint (models/checkpoints), e.g. ltx-2-19b-distilled.safetensors or ltx-2.3-22b-dev.safetensors."),
                io.Combo.Input("text_encoder", options=model_files.list_models(model_files.TEXT_ENCODERS, model_folders=True), tooltip="Gemma 3 12B (models/text_encoders): ComfyUI's single file (gemma_3_12B_it*.safetensors) or a Hugging Face model folder (listed with a trailing /)."),
                *_common_inputs(),
            ],
            outputs=[_model_out()],
        )

    @classmethod
    def execute(cls, checkpoint, text_encoder, tokenizer, dtype, device, distilled_lora, distilled_lora_strength, spatial_upsampler, weight_dtype=DEFAULT_WEIGHTS, resident_blocks=0, compile=False, attention="sdpa"):
        try:
            files = ModelSet.resolve(model_files.resolve(model_files.CHECKPOINTS, checkpoint), model_files.resolve(model_files.TEXT_ENCODERS, text_encoder), flags=INPUT_NAMES)
        except InputError as error:
            if {field for field, _ in error.problems} <= {"vae", "audio_vae"}:  # a transformer without its VAEs
                raise InputError([("checkpoint", f"{checkpoint} holds only a transformer (LTX-2.5 ships split files): load it with Load LTX-2.5 Model (split files)")]) from None
            raise
        return io.NodeOutput(_load(files, tokenizer, dtype, device, distilled_lora, distilled_lora_strength, spatial_upsampler, weight_dtype, resident_blocks, compile, attention))


class SplitModelLoader(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id=NODE_PREFIX + "SplitModelLoader",
            display_name="Load LTX-2.5 Model (split files) (LTX-2 Chain)",
            category=LOADERS,
            description=(
                "Loads LTX-2.5 as Lightricks ships it, one file per component: the transformer (with the text "
                "connectors), the Gemma 4 text encoder (with the text projection), the video VAE (conv decoder) and the "
                "audio VAE with its vocoder. The files are checked against each other before anything loads (versions, "
                "Gemma version, which file holds what)."
            ),
            inputs=[
                io.Combo.Input("transformer", options=model_files.list_models(model_files.DIFFUSION_MODELS), tooltip="The LTX-2.5 transformer (models/diffusion_models), e.g. ltx-2.5-22b-distilled-transformer-bf16.safetensors."),
                io.Combo.Input("text_encoder", options=model_files.list_models(model_files.TEXT_ENCODERS, model_folders=True), tooltip="The LTX-2.5 text encoder (models/text_encoders): gemma4-12b-with-proj-ltx-2.5-bf16.safetensors."),
                io.Combo.Input("vae", options=model_files.list_models(model_files.VAE), tooltip="The video VAE (models/vae): ltx-2.5-video-vae-conv-bf16.safetensors (the conv decoder; the diffusion decoder ltx-2.5-video-vae-bf16 is not supported)."),
                io.Combo.Input("audio_vae", options=model_files.list_models(model_files.VAE), tooltip="The audio VAE and vocoder (models/vae): ltx-2.5-audio-vae-bf16.safetensors."),
                *_common_inputs(),
            ],
            outputs=[_model_out()],
        )

    @classmethod
    def execute(cls, transformer, text_encoder, vae, audio_vae, tokenizer, dtype, device, distilled_lora, distilled_lora_strength, spatial_upsampler, weight_dtype=DEFAULT_WEIGHTS, resident_blocks=0, compile=False, attention="sdpa"):
        files = ModelSet.resolve(
            model_files.resolve(model_files.DIFFUSION_MODELS, transformer), model_files.resolve(model_files.TEXT_ENCODERS, text_encoder),
            vae=model_files.resolve(model_files.VAE, vae), audio_vae=model_files.resolve(model_files.VAE, audio_vae), flags=SPLIT_INPUT_NAMES,
        )  # fmt: skip
        return io.NodeOutput(_load(files, tokenizer, dtype, device, distilled_lora, distilled_lora_strength, spatial_upsampler, weight_dtype, resident_blocks, compile, attention))


class LoraLoader(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id=NODE_PREFIX + "LoraLoader",
            display_name="Load Runtime LoRA (LTX-2 Chain)",
            category=LOADERS,
            description=(
                "Attaches a LoRA to the model without merging it, so a schedule can change its scale from chunk to "
                "chunk (see LoRA Scale Ramp) with no reload. Chain several of these for several LoRAs."
            ),
            inputs=[
                ModelType.Input("model", tooltip="The model to add the LoRA to (it is not changed: a new model handle comes out)."),
                io.Combo.Input("lora", options=model_files.list_models(model_files.LORAS), tooltip="The LoRA file (models/loras), in the official LTX-2 LoRA layout."),
                io.Float.Input("scale", default=1.0, min=-10.0, max=10.0, step=0.05, tooltip="Scale used where the schedule gives none for this LoRA."),
                io.String.Input("name", default="", tooltip="The name schedules use for this LoRA (LoRA Scale Ramp, 'loras' in the schedule JSON). Empty: the file name without folder and extension."),
            ],
            outputs=[_model_out()],
        )

    @classmethod
    def execute(cls, model, lora, scale, name):
        path = model_files.resolve(model_files.LORAS, lora)
        return io.NodeOutput(model.with_lora(RuntimeLora(name.strip() or Path(lora).stem, path, scale)))


class DemoModel(io.ComfyNode):
    @classmethod
    def define_schema(cls):
        return io.Schema(
            node_id=NODE_PREFIX + "DemoModel",
            display_name="Demo Model (LTX-2 Chain)",
            category=LOADERS,
            description=(
                "A tiny LTX-2 with random weights, built in memory: the whole chain runs and writes a real MP4 with "
                "sound, with nothing downloaded. Its picture and sound are noise; use it to try workflows and schedules."
            ),
            inputs=[io.Int.Input("seed", default=0, min=0, max=2**31 - 1, tooltip="Seed of the random weights.")],
            outputs=[_model_out()],
        )

    @classmethod
    def execute(cls, seed):
        return io.NodeOutput(ChainModel(demo_models("cpu", seed)))


NODES = [ModelLoader, SplitModelLoader, LoraLoader, DemoModel]
