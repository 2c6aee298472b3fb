"""LTX2CHAIN_MODEL: what the loader nodes hand to the sampler.

The loaded models are shared by every node output built from them (ComfyUI caches outputs), so nothing here
changes them: a LoRA loader node returns a new handle that lists one more LoRA, and :func:`prepared` attaches the
listed LoRAs (unfused) only for the length of one run, on a fresh view of the models, then takes them off.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..ltx2.memory.planner import Geometry
from ..ltx2.model.attention import attention_backend, set_attention_backend
from ..ltx2.pipeline.models import LTXModels
from ..ltx2.pipeline.speed import use_attention
from .host import ManagedModules, io

ModelType = io.Custom("LTX2CHAIN_MODEL")


@dataclasses.dataclass(frozen=True)
class RuntimeLora:
    """A LoRA attached unfused for a run: ``name`` is what schedules call it, ``scale`` its default scale."""

    name: str
    path: Path
    scale: float


@dataclasses.dataclass(frozen=True)
class ChainModel:
    models: LTXModels
    managed: ManagedModules | None = None
    """ComfyUI's model patchers for ``models`` (None outside ComfyUI, and for the demo model)."""
    loras: tuple[RuntimeLora, ...] = ()
    resident_blocks: int = 0
    """Outside ComfyUI's management: > 0 streams the DiT's blocks (that many resident) in every run."""
    attention: str = "sdpa"
    """The attention kernel every run of this model uses (checked when the model loaded)."""

    def with_lora(self, lora: RuntimeLora) -> ChainModel:
        if any(existing.name == lora.name for existing in self.loras):
            raise ValueError(f"a LoRA named {lora.name!r} is already attached to this model; give the new one another name")
        return dataclasses.replace(self, loras=(*self.loras, lora))


TEXT_ONLY = Geometry(width=32, height=32, frames=1, tail_frames=1)
"""For a run that only encodes prompts: the text phase's working memory does not depend on the video's size."""


@contextmanager
def prepared(model: ChainModel, geometry: Geometry = TEXT_ONLY) -> Iterator[LTXModels]:
    """The models ready for one run of ``geometry``: inside ComfyUI each phase of the run loads its components
    through ComfyUI's model management as it starts (with the planner's working memory for ``geometry``); this
    handle's LoRAs are attached, and the model's attention kernel is used; both are undone afterwards, whatever
    happens."""
    if model.managed is not None:
        models = dataclasses.replace(model.models, device=model.managed.load_device, lora_files={})
        model.managed.attach(models, geometry)
    else:
        models = dataclasses.replace(model.models, lora_files={})
        if model.resident_blocks:
            models.offload("blocks", blocks=model.resident_blocks)
    # ``replace`` made a fresh LoRA set and residency, on the device the weights are on now
    previous = attention_backend()
    try:
        use_attention(model.attention, None)  # checked for the device when the model loaded
        for lora in model.loras:
            models.add_lora(lora.name, lora.path, lora.scale)
        yield models
    finally:
        models.loras.clear()
        models.residency.close()
        set_attention_backend(previous)
