import collections
import importlib.util
import os
import sys
import types
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))


def load_pack_like_comfyui():
    """Import the pack folder's __init__.py as a package, the way ComfyUI's custom-node loader does."""
    module_name = str(ROOT).replace(".", "_x_")
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, ROOT / "__init__.py", submodule_search_locations=[str(ROOT)])
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session", autouse=True)
def digest_cache(tmp_path_factory):
    """The model files' digest cache (ltx2.loading.digest) in a temporary folder, not the user's."""
    os.environ["LTX2CHAIN_CACHE"] = str(tmp_path_factory.mktemp("digests"))


@pytest.fixture(scope="session")
def pack():
    return load_pack_like_comfyui()


# ---- stand-ins for a ComfyUI install (no ComfyUI is installed here)


class Interrupted(Exception):
    pass


Load = collections.namedtuple("Load", "patchers memory_required force_full_load")
"""One ``load_models_gpu`` call, as the stand-in records it."""


def comfy_ops(casts: list) -> types.ModuleType:
    """A stand-in of ``comfy.ops``: layers that, once ComfyUI's partial loading sets ``comfy_cast_weights`` on them,
    bring their weight and bias to the input's device and dtype in every forward (recorded in ``casts``)."""
    ops = types.ModuleType("comfy.ops")

    class CastWeightBiasOp:
        comfy_cast_weights = False
        weight_function = []
        bias_function = []

    def cast_bias_weight(s, input=None, dtype=None, device=None, bias_dtype=None, offloadable=False):
        casts.append(type(s).__name__)
        dtype = input.dtype if dtype is None else dtype
        weight = s.weight.to(input.device, dtype)
        bias = None if getattr(s, "bias", None) is None else s.bias.to(input.device, bias_dtype or dtype)
        return (weight, bias, None) if offloadable else (weight, bias)

    def castable(base, compute):
        def forward(self, x):
            if not self.comfy_cast_weights:
                return base.forward(self, x)
            weight, bias, _ = ops.cast_bias_weight(self, x, offloadable=True)  # looked up per call, as ComfyUI's layers do
            return compute(self, x, weight, bias)

        return type(base.__name__, (base, CastWeightBiasOp), {"forward": forward})

    conv = lambda self, x, w, b: self._conv_forward(x, w, b)  # noqa: E731
    ops.disable_weight_init = types.SimpleNamespace(
        Linear=castable(torch.nn.Linear, lambda self, x, w, b: F.linear(x, w, b)),
        Conv1d=castable(torch.nn.Conv1d, conv),
        Conv2d=castable(torch.nn.Conv2d, conv),
        Conv3d=castable(torch.nn.Conv3d, conv),
        ConvTranspose1d=castable(torch.nn.ConvTranspose1d, lambda self, x, w, b: F.conv_transpose1d(x, w, b, self.stride, self.padding, self.output_padding, self.groups, self.dilation)),
        GroupNorm=castable(torch.nn.GroupNorm, lambda self, x, w, b: F.group_norm(x, self.num_groups, w, b, self.eps)),
        RMSNorm=castable(torch.nn.RMSNorm, lambda self, x, w, b: F.rms_norm(x, self.normalized_shape, w, self.eps)),
    )
    ops.CastWeightBiasOp = CastWeightBiasOp
    ops.cast_bias_weight = cast_bias_weight
    ops.uncast_bias_weight = lambda s, weight, bias, offload_stream: None
    return ops


@pytest.fixture
def comfy(monkeypatch, tmp_path):
    state = types.SimpleNamespace(Interrupted=Interrupted, interrupt=False, sent=[], bars=[], loads=[], frees=[], casts=[], folders={}, output=tmp_path / "comfy_output")

    mm = types.ModuleType("comfy.model_management")
    mm.get_torch_device = lambda: "cpu"
    mm.unet_offload_device = lambda: "cpu"
    mm.unet_dtype = lambda device, supported_dtypes=None: "bf16"
    mm.load_models_gpu = lambda models, memory_required=0, force_full_load=False: state.loads.append(Load(list(models), memory_required, force_full_load))
    mm.free_memory = lambda memory_required, device, keep_loaded=(): state.frees.append((memory_required, device))

    def throw():
        if state.interrupt:
            raise Interrupted()

    mm.throw_exception_if_processing_interrupted = throw

    class Bar:
        def __init__(self, total, node_id=None):
            self.total, self.node_id, self.values = total, node_id, []
            state.bars.append(self)

        def update_absolute(self, value, total=None, preview=None):
            self.values.append(value)

    utils = types.ModuleType("comfy.utils")
    utils.ProgressBar = Bar

    class Patcher:  # ComfyUI's ModelPatcher: holds the module and where it loads / offloads to
        def __init__(self, model, load_device, offload_device):
            self.model, self.load_device, self.offload_device = model, load_device, offload_device
            model.device = offload_device  # as ComfyUI's does (and again at every load)

    ops = comfy_ops(state.casts)
    patchers = types.ModuleType("comfy.model_patcher")
    patchers.ModelPatcher = Patcher
    folder_paths = types.ModuleType("folder_paths")
    folder_paths.folder_names_and_paths = state.folders
    folder_paths.get_folder_paths = lambda kind: [str(p) for p in state.folders[kind][0]]
    folder_paths.get_output_directory = lambda: str(state.output)
    graph = types.ModuleType("comfy_execution.graph_utils")
    graph.ExecutionBlocker = lambda message: ("blocked", message)
    server = types.ModuleType("server")
    server.PromptServer = types.SimpleNamespace(instance=types.SimpleNamespace(client_id="client-1", send_sync=lambda e, d, sid: state.sent.append((e, d, sid))))
    fakes = {
        "comfy": types.ModuleType("comfy"),
        "comfy.model_management": mm,
        "comfy.model_patcher": patchers,
        "comfy.ops": ops,
        "comfy.utils": utils,
        "comfy_execution": types.ModuleType("comfy_execution"),
        "comfy_execution.graph_utils": graph,
        "folder_paths": folder_paths,
        "server": server,
    }
    for name, module in fakes.items():
        monkeypatch.setitem(sys.modules, name, module)
    return state


@pytest.fixture
def inside_comfyui(pack, comfy, monkeypatch):
    """The pack's node modules as they behave inside ComfyUI (with the stand-in modules above)."""
    host_module = sys.modules[pack.__name__ + ".nodes.host"]
    monkeypatch.setattr(host_module, "IN_COMFYUI", True)
    return types.SimpleNamespace(
        host=host_module,
        files=importlib.import_module(pack.__name__ + ".nodes.model_files"),
        outputs=importlib.import_module(pack.__name__ + ".nodes.outputs"),
    )


# ---- the example workflows' model files, as tiny checkpoints

TINY = "fixtures/checkpoints/"
TINY_FILES = {
    # the official files the examples name -> the tiny reference checkpoints of the same architecture
    "checkpoints/ltx-2-19b-distilled.safetensors": TINY + "tiny-ltx-2-19b.safetensors",
    "checkpoints/ltx-2-19b-dev.safetensors": TINY + "tiny-ltx-2-19b.safetensors",
    "checkpoints/ltx-2.3-22b-distilled.safetensors": TINY + "tiny-ltx-2.3-22b.safetensors",
    "loras/ltx-2-19b-distilled-lora-384.safetensors": TINY + "tiny-ltx-2-19b-lora-r4.safetensors",
    "loras/ltx-2-19b-lora-camera-control-dolly-in.safetensors": TINY + "tiny-ltx-2-19b-lora-r4.safetensors",
    "latent_upscale_models/ltx-2.3-spatial-upscaler-x2-1.1.safetensors": TINY + "tiny-ltx-2.3-spatial-upscaler-x2-1.1.safetensors",
    "diffusion_models/ltx-2.5-22b-distilled-transformer-bf16.safetensors": TINY + "ltx-2.5/diffusion_models/tiny-ltx-2.5-22b-transformer.safetensors",
    "text_encoders/gemma4-12b-with-proj-ltx-2.5-bf16.safetensors": TINY + "ltx-2.5/text_encoders/tiny-gemma4-with-proj-ltx-2.5.safetensors",
    "vae/ltx-2.5-video-vae-conv-bf16.safetensors": TINY + "ltx-2.5/vae/tiny-ltx-2.5-video-vae-conv.safetensors",
    "vae/ltx-2.5-audio-vae-bf16.safetensors": TINY + "ltx-2.5/vae/tiny-ltx-2.5-audio-vae.safetensors",
}
TINY_GEMMA_AS = "text_encoders/gemma_3_12B_it.safetensors"
"""Stands for ComfyUI's Gemma single file: here a folder with the tiny Gemma and a tiny tokenizer (same name)."""


@pytest.fixture
def tiny_models(tmp_path, monkeypatch):
    """A models folder holding the official file names, each the tiny checkpoint of its architecture; returns the
    output folder the nodes write to."""
    from reference import path as reference_path
    from text_fixtures import TINY_GEMMA, save_tiny_tokenizer

    root = tmp_path / "models"
    for name, tiny in TINY_FILES.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).symlink_to(reference_path(tiny))
    gemma = root / TINY_GEMMA_AS
    gemma.mkdir(parents=True)
    for file in TINY_GEMMA.iterdir():
        (gemma / file.name).symlink_to(file)
    save_tiny_tokenizer(gemma)
    monkeypatch.setenv("LTX2CHAIN_MODELS", str(root))
    monkeypatch.setenv("LTX2CHAIN_OUTPUT", str(tmp_path / "output"))
    return tmp_path / "output"
