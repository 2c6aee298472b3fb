"""The operations namespace: the networks take their layer classes from it, and run unchanged with a host's
layers that leave the weights where they are stored and cast them layer by layer as they run (what ComfyUI's
``comfy.ops`` layers do under its partial loading)."""

from collections import Counter
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from ltx2.model.ops import LAYER_CLASSES, layers, operations
from ltx2.pipeline.clip import render_clip
from ltx2.pipeline.models import demo_models
from ltx2.pipeline.settings import RenderSettings

STORED = torch.float64
"""The dtype the casting layers keep their weights in: a stand-in for "on the offload device". Every float32
value is exact in it, so a layer that casts back before computing gives the resident layer's result bit for bit,
while code that took the compute dtype (or device) from a weight would compute in float64 and differ."""


def casting_operations(log: Counter) -> SimpleNamespace:
    """A test double of a host's layer namespace: each layer casts its weight and bias to the input's device and
    dtype in every forward and counts it in ``log``."""

    def cast(layer, x):
        log[type(layer).__name__] += 1
        bias = getattr(layer, "bias", None)
        bias = None if bias is None else bias.to(x.device, x.dtype)
        return layer.weight.to(x.device, x.dtype), bias

    def conv(self, x):
        return self._conv_forward(x, *cast(self, x))

    forwards = {
        "Linear": lambda self, x: F.linear(x, *cast(self, x)),
        "Conv1d": conv,
        "Conv2d": conv,
        "Conv3d": conv,
        "ConvTranspose1d": lambda self, x: F.conv_transpose1d(x, *cast(self, x), self.stride, self.padding, self.output_padding, self.groups, self.dilation),
        "GroupNorm": lambda self, x: F.group_norm(x, self.num_groups, *cast(self, x), self.eps),
        "RMSNorm": lambda self, x: F.rms_norm(x, self.normalized_shape, cast(self, x)[0], self.eps),
    }
    assert set(forwards) == set(LAYER_CLASSES)
    return SimpleNamespace(**{name: type(f"Casting{name}", (getattr(nn, name),), {"forward": fn}) for name, fn in forwards.items()})


def store_off_device(models) -> int:
    """Move every casting layer's tensors, and the DiT's own tables (which ComfyUI's partial loading leaves on the
    offload device too: they belong to no layer), to the stored dtype; returns how many layers."""
    count = 0
    for module in models.modules().values():
        for layer in module.modules():
            if type(layer).__name__.startswith("Casting"):
                layer.to(STORED)
                count += 1
    with torch.no_grad():
        for owner in models.transformer.modules():
            if not type(owner).__name__.startswith("Casting"):
                for name, param in owner.named_parameters(recurse=False):
                    owner._parameters[name] = nn.Parameter(param.to(STORED), requires_grad=False)
    return count


def test_default_operations_are_torch_layers():
    assert layers() is nn
    models = demo_models(seed=0)
    kinds = {type(m) for module in models.modules().values() for m in module.modules()}
    assert nn.Linear in kinds and nn.Conv3d in kinds and nn.RMSNorm in kinds
    assert not any(k.__name__.startswith("Casting") for k in kinds)


def test_operations_need_every_layer_class():
    with pytest.raises(TypeError, match="lacks Conv3d"):
        with operations(SimpleNamespace(**{n: getattr(nn, n) for n in LAYER_CLASSES if n != "Conv3d"})):
            pass
    assert layers() is nn


def test_networks_run_with_weights_left_where_stored_and_equal_the_resident_path():
    settings = RenderSettings(width=64, height=64, sigmas=(1.0, 0.6, 0.0), guidance="off")
    clip = dict(frames=9, fps=24, prompt="a red fox", seed=3)
    resident = demo_models(seed=0)
    log = Counter()
    casting = demo_models(seed=0, operations=casting_operations(log))
    layers_cast = store_off_device(casting)
    assert layers() is nn  # the namespace applied only while building
    assert layers_cast > 100

    expected = render_clip(resident, settings, **clip)
    got = render_clip(casting, settings, **clip)
    assert torch.equal(got["video"], expected["video"]) and torch.equal(got["audio"], expected["audio"])
    # every kind of layer ran through its cast, and the weights are still where they were stored
    assert {"CastingLinear", "CastingRMSNorm"} <= set(log)
    assert all(p.dtype == STORED for p in casting.transformer.parameters())

    log.clear()
    frames = {}
    for name, models in (("resident", resident), ("casting", casting)):
        waveform, rate = models.audio.decode_audio(expected["audio"][0])
        with torch.no_grad():
            pixels = models.video_decoder(expected["video"])
        frames[name] = (waveform, rate, pixels)
    assert torch.equal(frames["casting"][0], frames["resident"][0]) and torch.equal(frames["casting"][2], frames["resident"][2])
    assert {"CastingConv1d", "CastingConvTranspose1d", "CastingConv2d", "CastingConv3d"} <= set(log)
