"""Everything one render needs, loaded together: DiT (with runtime LoRAs), text encoder, VAEs and vocoder.

``load_models`` reads an official LTX-2 / LTX-2.3 checkpoint plus a Gemma 3 text encoder. ``demo_models``
builds a tiny model with random weights in memory, the same architecture at toy sizes, so the whole pipeline
runs (and writes real MP4s with sound) with nothing downloaded. Its pictures and sound are noise.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from ..audio.codec import AudioCodec
from ..audio.mel import MelFrontEnd
from ..errors import InputError
from ..loading.checkpoint import CheckpointFile, detect_architecture
from ..loading.digest import digests, file_digest
from ..loading.lora import RuntimeLoras, check_lora_fits, read_lora
from ..loading.model_set import ModelSet
from ..loading.text_encoder import check_gemma_version, load_text_encoder
from ..loading.transformer import load_text_connectors, load_transformer
from ..loading.upsampler import load_latent_upsampler
from ..loading.video_vae import load_video_decoder, load_video_encoder
from ..memory.activations import dit_forward_peak
from ..memory.planner import Geometry, working_memory
from ..memory.residency import Residency
from ..model.audio_vae import AudioDecoder, AudioEncoder, AudioVAEConfig
from ..model.connector import ConnectorConfig, EmbeddingsConnector
from ..model.fp8_linear import Fp8Linear
from ..model.ops import operations as layer_operations
from ..model.ops import set_compute_dtype
from ..model.transformer import AudioVideoTransformer
from ..model.upsampler import LatentUpsampler, UpsamplerConfig
from ..model.video_vae import VideoDecoder, VideoEncoder, VideoVAEConfig
from ..model.vocoder import build_vocoder
from ..text.cache import PromptCache
from ..text.encoder import TextEncoder
from ..text.features import feature_extractor_from_config
from ..text.gemma import GemmaEncoder

DEMO_CONFIG = Path(__file__).with_name("demo_config.json")
DEMO_TEXT_TOKENS = 128
DEMO_GEMMA = {
    "model_type": "gemma3_text", "vocab_size": 128, "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 3,
    "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 8, "sliding_window": 16, "max_position_embeddings": 512,
    "layer_types": ["sliding_attention", "full_attention", "sliding_attention"], "pad_token_id": 0, "eos_token_id": 1,
    "bos_token_id": 2, "query_pre_attn_scalar": 8, "rms_norm_eps": 1e-6,
}  # fmt: skip


@dataclass
class LTXModels:
    arch: str
    config: dict
    transformer: AudioVideoTransformer
    text: TextEncoder
    video_encoder: VideoEncoder
    video_decoder: VideoDecoder
    audio: AudioCodec
    device: torch.device
    dtype: torch.dtype
    name: str
    """What was loaded (file names or ``demo:<seed>``); part of every chunk's resume key."""
    upsampler: LatentUpsampler | None = None
    """Spatial x2 latent upsampler, for two-stage rendering."""
    loras: RuntimeLoras = field(init=False)
    prompts: PromptCache = field(init=False)
    lora_files: dict[str, str] = field(default_factory=dict)
    """Runtime LoRA name -> its file and the file's digest (part of every chunk's resume key)."""
    residency: Residency = field(init=False)
    """Which components are on ``device`` in each phase (``offload``); ``none`` until told otherwise."""

    def __post_init__(self):
        self.loras = RuntimeLoras(self.transformer)
        self.prompts = PromptCache(self.text)
        self.residency = Residency(self.modules(), self.device)

    def offload(self, mode: str, *, blocks: int = 8, low_ram: bool = False, on_phase=None, on_enter=None, components=None) -> Residency:
        """Switch the offload mode (``none`` / ``model`` / ``blocks``, see :mod:`ltx2.memory.residency`) of the named
        ``components`` (default: all; a host may place the others itself, from ``on_enter``)."""
        previous = self.residency.mode
        self.residency.close()
        modules = {n: m for n, m in self.modules().items() if components is None or n in components}
        self.residency = Residency(modules, self.device, mode, blocks=blocks, low_ram=low_ram, on_phase=on_phase, on_enter=on_enter)
        if mode == "none" and previous != "none":
            self.residency.restore()
        return self.residency

    def phase(self, name: str, only: tuple[str, ...] | None = None):
        """Context manager: run phase ``name`` (``only`` these of its components) with them on the device (ledgered)."""
        return self.residency.phase(name, only)

    def add_lora(self, name: str, path: str | os.PathLike, scale: float = 1.0) -> int:
        """Attach a LoRA file unfused under ``name`` (the name schedules use); returns the layers it touches."""
        check_lora_fits(path, self.arch, self.label)
        touched = self.loras.add(name, read_lora(path), scale)
        self.lora_files[name] = f"{Path(path).name} sha256:{file_digest(path)}"  # by content: a file replaced under its name is another LoRA
        return touched

    @property
    def label(self) -> str:
        """The model's main file (the demo's name) for messages."""
        return json.loads(self.name)["checkpoint"] if self.name.startswith("{") else self.name

    def modules(self) -> dict[str, nn.Module]:
        """Every module that holds weights (for a host's memory management)."""
        parts = {
            "transformer": self.transformer,
            "text_encoder": self.text.gemma.model,
            "text_features": self.text.feature_extractor,
            "video_encoder": self.video_encoder,
            "video_decoder": self.video_decoder,
            "audio_encoder": self.audio.encoder,
            "audio_decoder": self.audio.decoder,
            "vocoder": self.audio.vocoder,
        }
        if self.upsampler is not None:
            parts["upsampler"] = self.upsampler
        for side in ("video", "audio"):
            connector = getattr(self.text, f"{side}_connector")
            if isinstance(connector, nn.Module):
                parts[f"{side}_connector"] = connector
        return parts

    @property
    def _fp8_blocks(self) -> bool:
        return any(isinstance(m, Fp8Linear) for m in self.transformer.modules())

    def working_memory(self, geometry: Geometry) -> dict[str, int]:
        """Phase -> bytes of working memory a render of ``geometry`` needs on the device (the memory planner's
        estimate), for a host that places the weights itself."""
        return working_memory(self.config, self.text.gemma.model.config.to_dict(), geometry, torch.finfo(self.dtype).bits // 8, self._fp8_blocks, self.device.type)

    def denoise_memory(self, video_tokens: int, audio_tokens: int, text_tokens: int, batch: int) -> int:
        """Bytes of working memory one DiT forward over ``batch`` samples of these token counts needs on the device
        (the memory planner's estimate)."""
        return dit_forward_peak(self.config["transformer"], video_tokens, audio_tokens, text_tokens, batch, torch.finfo(self.dtype).bits // 8, fp8_weights=self._fp8_blocks)

    @property
    def latent_channels(self) -> int:
        return self.transformer.cfg.in_channels


def load_models(
    checkpoint: str | os.PathLike | ModelSet,
    gemma: str | os.PathLike | None = None,
    *,
    vae: str | os.PathLike | None = None,
    audio_vae: str | os.PathLike | None = None,
    tokenizer: str | os.PathLike | None = None,
    device: str | torch.device | None = None,
    dtype: torch.dtype | None = None,
    fused_loras: tuple[tuple[str, float], ...] = (),
    spatial_upsampler: str | os.PathLike | None = None,
    weights: str = "auto",
    offload: str = "none",
    blocks: int = 8,
    low_ram: bool = False,
    on_phase=None,
    operations=None,
) -> LTXModels:
    """An official model and its Gemma text encoder, computing on ``device`` in ``dtype``, every file streamed
    tensor by tensor.

    ``checkpoint``: a single-file LTX-2 / LTX-2.3 checkpoint, an LTX-2.5 transformer file (then ``vae`` and
    ``audio_vae`` name the video VAE and the audio VAE + vocoder files), or a folder laid out as the official
    release, or their :class:`ltx2.loading.model_set.ModelSet`; ``gemma``: Gemma 3 (a model folder or ComfyUI's single
    file) for LTX-2 / 2.3, the packed Gemma 4 text-encoder file for LTX-2.5 (optional with a release folder that
    holds it). ``fused_loras``: (file, strength) pairs merged into the DiT at load (e.g. the distilled LoRA);
    ``spatial_upsampler``: the x2 latent upsampler file, for two-stage rendering; ``weights``: ``auto`` (as the
    files: fp8 stays fp8), ``fp8`` (block Linears quantised to fp8) or ``full`` (all in ``dtype``);
    ``offload`` / ``blocks`` / ``low_ram``: see :mod:`ltx2.memory.residency`. Off ``none``, components load to
    the CPU (or, when they would be freed between phases anyway, not at all) and reach the device by phase.
    ``operations``: the layer classes to build the networks from (:mod:`ltx2.model.ops`; default torch's).
    """
    files = checkpoint if isinstance(checkpoint, ModelSet) else ModelSet.resolve(checkpoint, gemma, vae=vae, audio_vae=audio_vae)
    if files.text_encoder is None:
        raise InputError([("--gemma", "the model needs its Gemma text encoder: a Gemma 3 folder or file (LTX-2 / 2.3), or the LTX-2.5 text-encoder file")])
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    dtype = dtype or (torch.bfloat16 if device.type == "cuda" else torch.float32)
    home = device if offload == "none" else torch.device("cpu")
    defer = offload != "none" and (low_ram or device.type == "cpu")  # the big two are re-read from the file anyway
    ckpt, vae_file, audio_file = (CheckpointFile(p) for p in (files.transformer, files.video_vae, files.audio_vae))
    check_gemma_version(ckpt, files.text_encoder)  # before anything heavy is read
    for path, _ in fused_loras:
        check_lora_fits(path, ckpt.architecture, ckpt.path.name)
    with layer_operations(operations):  # the fp8 layers the loaders swap in come from it too
        connectors = load_text_connectors(ckpt, device=home, dtype=dtype)
        text = load_text_encoder(
            ckpt, files.text_encoder, tokenizer=tokenizer, video_connector=connectors[0], audio_connector=connectors[1], device=home,
            dtype=dtype, weights=weights, defer=defer,
        )  # fmt: skip
        models = LTXModels(
            arch=ckpt.architecture,
            config={**audio_file.config, **vae_file.config, **ckpt.config},
            transformer=load_transformer(ckpt, device=home, dtype=dtype, loras=list(fused_loras), weights=weights, defer=defer),
            text=text,
            video_encoder=load_video_encoder(vae_file, device=home, dtype=dtype),
            video_decoder=load_video_decoder(vae_file, device=home, dtype=dtype),
            audio=AudioCodec.from_checkpoint(audio_file, device=home, dtype=dtype),
            device=device,
            dtype=dtype,
            name=_name(files, fused_loras, spatial_upsampler, weights),
            upsampler=load_latent_upsampler(CheckpointFile(spatial_upsampler), device=home, dtype=dtype) if spatial_upsampler else None,
        )
        models.offload(offload, blocks=blocks, low_ram=low_ram, on_phase=on_phase)
    return models


def _name(files: ModelSet, fused_loras, spatial_upsampler, weights: str) -> str:
    """What was loaded, for the resume key: the files by name and by content (a file replaced under its name is
    another model), and how they are held."""
    every = [*files.files(), files.text_encoder, *(p for p, _ in fused_loras), *([spatial_upsampler] if spatial_upsampler else [])]
    return json.dumps(
        {
            "checkpoint": files.transformer.name,
            **({"vae": files.video_vae.name, "audio_vae": files.audio_vae.name} if files.split else {}),
            "gemma": files.text_encoder.name,
            "fused": [(Path(p).name, s) for p, s in fused_loras],
            "upsampler": spatial_upsampler and Path(spatial_upsampler).name,
            **({"weights": weights} if weights != "auto" else {}),
            "sha256": digests(every),
        }
    )


# --- the tiny demo model ----------------------------------------------------------------------------------

_SELF_INITIALISED = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.GroupNorm, nn.LayerNorm, nn.Embedding)


def _randomise(module: nn.Module, generator: torch.Generator) -> None:
    """Give every tensor PyTorch left uninitialised (custom parameters and stored buffers) a sane random value;
    standard layers keep their own (seeded) initialisation."""
    with torch.no_grad():
        for owner in module.modules():
            if isinstance(owner, _SELF_INITIALISED):
                continue
            tensors = [*owner.named_parameters(recurse=False), *owner.named_buffers(recurse=False)]
            for name, t in tensors:
                if not t.is_floating_point():
                    continue
                if name.startswith("std"):
                    t.fill_(1.0)
                elif name.startswith("mean"):
                    t.zero_()
                else:
                    t.copy_(torch.randn(t.shape, generator=generator) * 0.02)


def demo_tokenizer():
    """A character-level Gemma tokenizer for the demo model (any prompt tokenises; no download)."""
    from transformers import GemmaTokenizer

    chars = " abcdefghijklmnopqrstuvwxyz0123456789.,!?'-"
    vocab = {"<pad>": 0, "<eos>": 1, "<bos>": 2, "<unk>": 3, **{c: 4 + i for i, c in enumerate(chars)}}
    return GemmaTokenizer(vocab=vocab, merges=[], add_bos_token=True)


def demo_models(device: str | torch.device = "cpu", seed: int = 0, operations=None) -> LTXModels:
    """The LTX-2 architecture at toy sizes with random weights (seeded): a pipeline demo, not a video model.
    ``operations``: the layer classes to build the networks from (:mod:`ltx2.model.ops`; default torch's)."""
    from transformers import Gemma3TextConfig, Gemma3TextModel

    device = torch.device(device)
    config = json.loads(DEMO_CONFIG.read_text())
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)  # the standard layers' own initialisation
    t = config["transformer"]
    gemma = Gemma3TextModel(Gemma3TextConfig(**DEMO_GEMMA)).eval()
    audio_cfg = AudioVAEConfig.from_config(config["audio_vae"])
    vae_cfg = VideoVAEConfig.from_checkpoint_config(config)
    with layer_operations(operations):
        text = TextEncoder(
            GemmaEncoder(gemma, demo_tokenizer(), max_length=DEMO_TEXT_TOKENS),
            feature_extractor_from_config(t, DEMO_GEMMA["hidden_size"], DEMO_GEMMA["num_hidden_layers"] + 1),
            video_connector=EmbeddingsConnector(ConnectorConfig.from_config(t, audio=False)),
            audio_connector=EmbeddingsConnector(ConnectorConfig.from_config(t, audio=True)),
        )
        parts = {
            "transformer": AudioVideoTransformer.from_config(config),
            "video_encoder": VideoEncoder(vae_cfg),
            "video_decoder": VideoDecoder(vae_cfg),
            "audio_encoder": AudioEncoder(audio_cfg),
            "audio_decoder": AudioDecoder(audio_cfg),
            "vocoder": build_vocoder(config["vocoder"]),
            "upsampler": LatentUpsampler(UpsamplerConfig.from_checkpoint_config(config["demo_spatial_upsampler"])),
        }
    for module in [*parts.values(), text.feature_extractor, text.video_connector, text.audio_connector]:
        _randomise(module, generator)
        set_compute_dtype(module, torch.float32)
    for module in [*parts.values(), gemma, text.feature_extractor, text.video_connector, text.audio_connector]:
        module.to(device).eval()
    return LTXModels(
        arch=detect_architecture(config),
        config=config,
        transformer=parts["transformer"],
        text=text,
        video_encoder=parts["video_encoder"],
        video_decoder=parts["video_decoder"],
        audio=AudioCodec(MelFrontEnd.from_config(config["audio_vae"]), parts["audio_encoder"], parts["audio_decoder"], parts["vocoder"]),
        device=device,
        dtype=torch.float32,
        name=f"demo:{seed}",
        upsampler=parts["upsampler"],
    )
