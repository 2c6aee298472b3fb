"""The memory planner: per phase, how much a render needs on the compute device in each offload mode, and the
cheapest mode that fits a budget.

Weights come from the files' headers (nothing is read): each tensor's element count times the bytes it will
have in memory (fp8 Linears 1 byte per parameter when kept as fp8, the vocoder in float32, everything else in
the compute dtype), grouped by component as :func:`ltx2.pipeline.models.load_models` groups them. Working
memory comes from :mod:`ltx2.memory.activations` at the render's geometry. A phase's peak is the weights on the
device in that phase (:data:`ltx2.memory.residency.PHASES`) plus its working memory.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path

import torch

from ..audio.rates import audio_latents_for
from ..chain.plan import latent_frames
from ..loading.audio import STATISTICS as AUDIO_STATISTICS
from ..loading.checkpoint import CheckpointFile
from ..loading.gemma import GEMMA3_12B_TEXT_CONFIG, text_config_and_files, text_model_prefix
from ..loading.model_set import ModelSet
from ..loading.transformer import BLOCKS, DIT_PREFIX
from ..loading.video_vae import LEGACY_STATISTICS, STATISTICS_PREFIX
from ..model.transformer import CONNECTOR_PREFIXES
from ..text.features import feature_extractor_version
from . import activations
from .residency import PHASES

GiB = 2**30
TEXT_TOKENS = 1024  # the text encoder's padded prompt length
DEVICE_OVERHEAD = {"cuda": int(0.75 * GiB), "cpu": 112 * 2**20}
"""What a device costs before any weight: on a GPU the CUDA context and library workspaces (0.5-1 GiB); on the
CPU the render's own working set beyond the weights (op kernels, thread pools, the run's state: 112 MiB measured
by ``bench/bench_memory.py`` once the libraries are imported)."""
BLOCK_CHOICES = (16, 8, 4, 2, 1)


@dataclass
class Component:
    bytes: int = 0
    blocks: dict[int, int] = field(default_factory=dict)
    """For a streamed component: block index -> its bytes (the rest is ``bytes`` minus their sum)."""

    def add(self, nbytes: int, block: int | None = None) -> None:
        self.bytes += nbytes
        if block is not None:
            self.blocks[block] = self.blocks.get(block, 0) + nbytes

    @property
    def block_bytes(self) -> list[int]:
        return [self.blocks[i] for i in sorted(self.blocks)]


def _block(rest: str, stack: str) -> int | None:
    """The block index of a key (relative to its component) under the block stack ``stack``, if it is under it."""
    return int(rest[len(stack) :].split(".", 1)[0]) if rest.startswith(stack) else None


def _memory_bytes(ckpt: CheckpointFile, key: str, dtype_bytes: int, fp8: bool) -> int:
    """Bytes of one tensor in memory; a weight held in fp8 is 1 byte per element (+ a float32 scale when it is
    quantised at load: a file's own scales are counted as their own keys)."""
    numel = math.prod(ckpt.shapes[key])
    stored = ckpt.dtypes[key]
    if fp8:
        return numel + (0 if stored.startswith("F8") else 4)
    if not stored.startswith(("F", "BF")):
        return ckpt.nbytes(key)
    return numel * dtype_bytes


def _is_fp8_linear_weight(ckpt: CheckpointFile, key: str, weights: str, under: str) -> bool:
    """Will this tensor be held in fp8? (files' fp8 weights unless ``full``; all block Linear weights in ``fp8``)."""
    if weights == "full":
        return False
    if ckpt.dtypes[key] == "F8_E4M3":
        return True
    return weights == "fp8" and key.endswith(".weight") and under in key and len(ckpt.shapes[key]) == 2


def _owners(key: str) -> tuple[str, ...]:
    """The components a checkpoint key is loaded into (the VAEs' statistics go to both halves)."""
    if key.startswith(DIT_PREFIX):
        rest = key[len(DIT_PREFIX) :]
        if rest.startswith(CONNECTOR_PREFIXES):
            return ("video_connector",) if rest.startswith("video") else ("audio_connector",)
        return ("transformer",)
    if key.startswith(STATISTICS_PREFIX):
        return () if key in LEGACY_STATISTICS else ("video_encoder", "video_decoder")
    if key.startswith(AUDIO_STATISTICS):
        return ("audio_encoder", "audio_decoder")
    for prefix, name in (("vae.encoder.", "video_encoder"), ("vae.decoder.", "video_decoder"), ("audio_vae.encoder.", "audio_encoder"),
                         ("audio_vae.decoder.", "audio_decoder"), ("vocoder.", "vocoder"), ("text_embedding_projection.", "text_features")):  # fmt: skip
        if key.startswith(prefix):
            return (name,)
    return ()


def checkpoint_components(ckpt: CheckpointFile, *, weights: str = "auto", dtype_bytes: int = 2) -> dict[str, Component]:
    """Component -> bytes in memory, from an LTX checkpoint's header."""
    out: dict[str, Component] = {}
    for key in ckpt.keys():
        owners = _owners(key)
        fp8 = _is_fp8_linear_weight(ckpt, key, weights, DIT_PREFIX + BLOCKS)
        if key.endswith((".weight_scale", ".input_scale")):
            nbytes = math.prod(ckpt.shapes[key]) * 4 if fp8_kept(ckpt, key, weights) else 0
        elif owners == ("vocoder",):
            nbytes = math.prod(ckpt.shapes[key]) * 4  # the engine runs the vocoder in float32
        else:
            nbytes = _memory_bytes(ckpt, key, dtype_bytes, fp8)
        block = _block(key[len(DIT_PREFIX) :], BLOCKS) if owners == ("transformer",) else None
        for name in owners:
            out.setdefault(name, Component()).add(nbytes, block)
    return out


def fp8_kept(ckpt: CheckpointFile, scale_key: str, weights: str) -> bool:
    """Is the Linear this scale belongs to held in fp8 (so its scales stay)?"""
    weight = scale_key.rsplit(".", 1)[0] + ".weight"
    return weight in ckpt.shapes and _is_fp8_linear_weight(ckpt, weight, weights, DIT_PREFIX + BLOCKS)


def gemma_component(gemma: str | Path, *, weights: str = "auto", dtype_bytes: int = 2) -> tuple[dict, Component]:
    """(Gemma text config, its weights in memory) from a model folder or a single file's header."""
    config, files = text_config_and_files(gemma)
    checkpoints = [CheckpointFile(path) for path in files]
    prefix = text_model_prefix({k for c in checkpoints for k in c.keys()}, Path(gemma))  # across all shards
    component = Component()
    for ckpt in checkpoints:
        for key in ckpt.keys(prefix):
            rest = key[len(prefix) :]
            if rest.startswith(("vision", "multi_modal", "lm_head")) or not ckpt.dtypes[key].startswith(("F", "BF")):
                continue
            scale = rest.endswith(("_scale", ".scale_weight", ".scale_input"))
            fp8 = _is_fp8_linear_weight(ckpt, key, weights, "layers.")
            component.add(math.prod(ckpt.shapes[key]) * 4 if scale else _memory_bytes(ckpt, key, dtype_bytes, fp8), _block(rest, "layers."))
    return config, component


def gemma3_12b_component(weights: str, dtype_bytes: int) -> Component:
    """Gemma 3 12B's text model in memory, from its config (built on meta): decoder Linears 1 byte per parameter
    with ``weights="fp8"``, everything else in the compute dtype."""
    from transformers import Gemma3TextConfig, Gemma3TextModel

    with torch.device("meta"):
        model = Gemma3TextModel(Gemma3TextConfig(**GEMMA3_12B_TEXT_CONFIG))
    component = Component()
    for key, t in model.state_dict().items():
        fp8 = weights == "fp8" and key.startswith("layers.") and key.endswith(".weight") and t.dim() == 2
        component.add(t.numel() + 4 if fp8 else t.numel() * dtype_bytes, _block(key, "layers."))
    return component


@dataclass
class PhaseEstimate:
    weights: int
    activations: int

    @property
    def peak(self) -> int:
        return self.weights + self.activations


@dataclass
class ModePlan:
    mode: str
    blocks: int
    phases: dict[str, PhaseEstimate]
    overhead: int

    @property
    def peak(self) -> int:
        return self.overhead + max(p.peak for p in self.phases.values())

    @property
    def label(self) -> str:
        return f"blocks ({self.blocks})" if self.mode == "blocks" else self.mode

    def to_dict(self) -> dict:
        return {
            "mode": self.mode, "blocks": self.blocks if self.mode == "blocks" else None, "peak_bytes": self.peak, "overhead_bytes": self.overhead,
            "phases": {n: {"weights_bytes": p.weights, "activation_bytes": p.activations, "peak_bytes": p.peak} for n, p in self.phases.items()},
        }  # fmt: skip


@dataclass
class Geometry:
    width: int
    height: int
    frames: int
    tail_frames: int = 25
    guidance_passes: int = 1  # the DiT passes a guided step runs (4 with the reference guidance)
    fps: Fraction = Fraction(24)


def working_memory(config: dict, gemma_config: dict, g: Geometry, dtype_bytes: int, fp8: bool, device_type: str = "cuda") -> dict[str, int]:
    """Phase -> bytes of working memory (activations, not weights) a render of ``g`` needs on the device.

    The denoise counts one DiT pass on a GPU: there the renderer runs a guided step's passes as one batch only when
    the GPU has the room free as the denoise starts, and one after another otherwise, so a plan that leaves room for
    one pass keeps the most weights on the device (expected faster than the batch with blocks streamed in at every
    step: a full-size pass fills the GPU alone; ``bench/gpu_check.py`` measures both). Elsewhere (the CPU) the
    renderer always batches them: all are counted."""
    video_tokens = latent_frames(g.frames) * (g.height // 32) * (g.width // 32)
    audio_tokens = audio_latents_for(g.frames, g.fps)
    tiling = activations.tiling_for_budget(config, g.frames, g.height, g.width, 4 * GiB, dtype_bytes)
    # after Gemma, the feature extractor normalises the stack of all its hidden states: at its peak it holds 3 such
    # stacks (LTX-2's V1) or 4 (LTX-2.3's V2), as measured on the module (0.36 GiB each at 1024 tokens in bf16)
    stack = TEXT_TOKENS * gemma_config["hidden_size"] * (gemma_config["num_hidden_layers"] + 1) * dtype_bytes
    features = stack * (3 if feature_extractor_version(config["transformer"]) == 1 else 4)
    passes = 1 if budgeted(device_type) else g.guidance_passes
    return {
        "text": max(activations.text_encode_peak(gemma_config, TEXT_TOKENS, dtype_bytes), features),
        "encode": activations.vae_encode_peak(config, g.tail_frames, g.height, g.width, tiling, dtype_bytes),
        "denoise": activations.dit_forward_peak(config["transformer"], video_tokens, audio_tokens, TEXT_TOKENS, passes, dtype_bytes, fp8_weights=fp8),
        "upsample": 0,
        "decode": activations.vae_decode_peak(config, g.frames, g.height, g.width, tiling, dtype_bytes),
    }


def plan_modes(components: dict[str, Component], work: dict[str, int], device_type: str = "cuda", blocks: int | None = None) -> list[ModePlan]:
    """Every offload mode (``blocks`` with each of :data:`BLOCK_CHOICES`, and ``blocks`` if given), cheapest to run
    first."""
    overhead = DEVICE_OVERHEAD.get(device_type, 0)
    plans = [ModePlan("none", 0, {}, overhead), ModePlan("model", 0, {}, overhead)]
    plans += [ModePlan("blocks", n, {}, overhead) for n in sorted({*BLOCK_CHOICES, *([blocks] if blocks else [])}, reverse=True)]
    total = sum(c.bytes for c in components.values())
    in_flight = 1 if device_type == "cuda" else 0  # a GPU copies the next block in while one computes
    for plan in plans:
        for phase, needed in PHASES.items():
            if phase == "upsample" and "upsampler" not in components:
                continue
            if plan.mode == "none":
                weights = total
            else:
                weights = 0
                for name in needed:
                    c = components.get(name, Component())
                    if plan.mode == "blocks" and c.block_bytes and plan.blocks < len(c.block_bytes):
                        weights += c.bytes - sum(c.block_bytes) + (plan.blocks + in_flight) * max(c.block_bytes)
                    else:
                        weights += c.bytes
            plan.phases[phase] = PhaseEstimate(weights, work.get(phase, 0))
    return plans


def choose(plans: list[ModePlan], budget: int) -> ModePlan:
    """The first (fastest) plan that fits ``budget``; an error naming the smallest peak when none does."""
    for plan in plans:
        if plan.peak <= budget:
            return plan
    best = min(plans, key=lambda p: p.peak)
    raise ValueError(
        f"no offload mode fits {budget / GiB:.1f} GiB: the smallest peak is {best.peak / GiB:.1f} GiB (--offload {best.mode}"
        f"{f' --blocks {best.blocks}' if best.mode == 'blocks' else ''}); lower --width/--height/--clip-frames, use --weights fp8, "
        "or give a larger --vram"
    )


def plan_files(checkpoint, gemma, geometry: Geometry, *, weights: str = "auto", dtype: torch.dtype = torch.bfloat16, device_type: str = "cuda", upsampler=None, blocks: int | None = None) -> list[ModePlan]:
    """Every mode's plan for a render of ``geometry`` with these files: ``checkpoint`` a single file, or a
    :class:`ModelSet` (LTX-2.5's split files); ``gemma`` the text encoder (None: Gemma 3 12B as officially shipped,
    or the model set's own)."""
    files = checkpoint if isinstance(checkpoint, ModelSet) else ModelSet.resolve(checkpoint, gemma)
    files = files if gemma is None else dataclasses.replace(files, text_encoder=Path(gemma))
    dtype_bytes = torch.finfo(dtype).bits // 8
    parts = {path: CheckpointFile(path) for path in files.files()}
    components, config = {}, {}
    for part in parts.values():
        components.update(checkpoint_components(part, weights=weights, dtype_bytes=dtype_bytes))
        config.update(part.config)
    ckpt = parts[files.transformer]
    config.update(ckpt.config)  # the transformer's sections win
    gemma = files.text_encoder
    if gemma is not None:
        gemma_config, components["text_encoder"] = gemma_component(gemma, weights=weights, dtype_bytes=dtype_bytes)
        if Path(gemma).is_file():  # LTX-2.5's text-encoder file also holds the text projection
            components.update({n: c for n, c in checkpoint_components(CheckpointFile(gemma), weights=weights, dtype_bytes=dtype_bytes).items() if n == "text_features"})
    else:  # no file given: Gemma 3 12B as the official file holds it
        gemma_config, components["text_encoder"] = GEMMA3_12B_TEXT_CONFIG, gemma3_12b_component(weights, dtype_bytes)
    if upsampler is not None:
        up = CheckpointFile(upsampler)
        components["upsampler"] = Component(sum(math.prod(up.shapes[k]) * dtype_bytes for k in up.keys()))
    fp8 = weights != "full" and any(_is_fp8_linear_weight(ckpt, k, weights, DIT_PREFIX + BLOCKS) for k in ckpt.keys(DIT_PREFIX + BLOCKS))
    return plan_modes(components, working_memory(config, gemma_config, geometry, dtype_bytes, fp8, device_type), device_type, blocks)


def free_memory(device: torch.device) -> int:
    """Bytes free for a render: the GPU's free memory (with what torch's allocator holds unused), or the system's
    available memory for the CPU."""
    if device.type == "cuda":
        return torch.cuda.mem_get_info(device)[0] + torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device)
    with open("/proc/meminfo") as f:
        info = dict(line.split(":", 1) for line in f)
    return int(info["MemAvailable"].split()[0]) * 1024


def budgeted(device_type: str) -> bool:
    """Whether a render fits its working memory to what a device of this type has free as it runs (a GPU: the VAE
    tiling, batching the guidance passes); elsewhere (the CPU) it does not budget."""
    return device_type == "cuda"


def device_budget(device: torch.device) -> int | None:
    """Bytes a render step may still take on ``device`` now: the GPU's free memory; None where the working memory is
    not budgeted while a render runs (:func:`budgeted`)."""
    return free_memory(device) if budgeted(device.type) else None


def table(plans: list[ModePlan], chosen: ModePlan | None = None) -> str:
    phases = list(plans[0].phases)
    unit, name = (GiB, "GiB") if max(p.peak for p in plans) >= GiB else (2**20, "MiB")
    rows = [f"{'mode':<12}" + "".join(f"{p:>10}" for p in phases) + f"{'peak':>10}"]
    for plan in plans:
        mark = "  <- fits" if plan is chosen else ""
        rows.append(f"{plan.label:<12}" + "".join(f"{plan.phases[p].peak / unit:>10.2f}" for p in phases) + f"{plan.peak / unit:>10.2f}{mark}")
    return "\n".join(rows) + f"\n({name} on the device per phase: weights + working memory; the peak adds {plans[0].overhead / unit:.2f} {name} for the device itself)"
