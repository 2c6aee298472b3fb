"""Load the Gemma text model (HF ``transformers``) and its tokenizer from what users already have on disk.

LTX-2 and LTX-2.3 encode prompts with Gemma 3 12B (``gemma3_text``), LTX-2.5 with the language model of Gemma 4
unified (``gemma4_unified_text``, :data:`TEXT_MODELS`). Both take the same path: the HF text model built on meta
from its config, the weights streamed in strictly, fp8 kept or dequantised.

Three sources, never a download (everything runs with ``local_files_only``):

* a **model folder** written by ``save_pretrained`` (``config.json`` + ``model.safetensors`` or shards with
  ``model.safetensors.index.json``), e.g. ``google/gemma-3-12b-it`` or its QAT-unquantized variant. Only the
  language model is built; the vision tower and LM head in the folder are skipped.
* a **single ``.safetensors`` file** as ComfyUI keeps it in ``models/text_encoders`` (the Comfy-Org repackaged
  ``gemma_3_12B_it*.safetensors``). Its keys are ``model.embed_tokens.weight``, ``model.layers.<i>.*``,
  ``model.norm.weight`` (plus ``vision_model.*``, ``multi_modal_projector.*`` and a ``spiece_model`` byte tensor,
  which are not part of the text model). It carries no config, so the Gemma 3 12B text config below is used.
  Scaled-fp8 variants store ``<layer>.weight`` as float8 with a ``<layer>.weight_scale`` (or older
  ``scale_weight``) sibling; they stay fp8 in memory (``Fp8Linear``, dequantised inside each forward) or, with
  ``weights="full"``, are dequantised as they load (``fp8 * scale``). Other quantised layouts (fp4 /
  nvfp4 "mixed", int8 block-wise) are refused with an error naming the file.
* a **packed single file** (LTX-2.5's ``gemma4-12b-with-proj-ltx-2.5*.safetensors``): the same flat key layout,
  with the HF config, the tokenizer and LTX's ``gemma_version`` inside (:mod:`ltx2.loading.gemma_packed`).

The text model is built on the meta device from its config and loaded strictly (every key of the model must
come from the file, every text-model key of the file must land in the model).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import torch
from torch import nn

from ..model.fp8_linear import FP8, Fp8Linear, dequantize
from .build import CheckpointMismatch, build_on_meta, load_into
from .checkpoint import CheckpointFile, MissingFile, what_it_is
from .gemma_packed import packed_config, write_tokenizer_folder
from .lazy import LazyTensor, quantized_at_load

GEMMA3_12B_TEXT_CONFIG: dict = {
    "model_type": "gemma3_text",
    "vocab_size": 262208,
    "hidden_size": 3840,
    "intermediate_size": 15360,
    "num_hidden_layers": 48,
    "num_attention_heads": 16,
    "num_key_value_heads": 8,
    "head_dim": 256,
    "query_pre_attn_scalar": 256,
    "hidden_activation": "gelu_pytorch_tanh",
    "rms_norm_eps": 1e-6,
    "max_position_embeddings": 131072,
    "sliding_window": 1024,
    "layer_types": ["full_attention" if (i + 1) % 6 == 0 else "sliding_attention" for i in range(48)],
    "rope_theta": 1_000_000.0,
    "rope_scaling": {"rope_type": "linear", "factor": 8.0},
    "rope_local_base_freq": 10_000.0,
    "attn_logit_softcapping": None,
    "final_logit_softcapping": None,
    "attention_bias": False,
    "pad_token_id": 0,
    "eos_token_id": 1,
    "bos_token_id": 2,
}
"""The text part of Gemma 3 12B-it (what LTX-2 and LTX-2.3 use), for single files that carry no config."""

TEXT_MODELS: dict[str, tuple[str, str, str]] = {
    "gemma3_text": ("Gemma 3", "Gemma3TextConfig", "Gemma3TextModel"),
    "gemma4_unified_text": ("Gemma 4", "Gemma4UnifiedTextConfig", "Gemma4UnifiedTextModel"),
}
"""Text model types that encode LTX prompts -> (name, HF config class, HF model class). Gemma 4's dense
``gemma4`` only enhances prompts in the reference; LTX-2.5 encodes with the language model of ``gemma4_unified``.
A config without ``model_type`` is Gemma 3's (the older overrides)."""
TRANSFORMERS_FLOOR = "5.10"  # the first release with Gemma 4 unified (README: supported transformers versions)

TEXT_MODEL_PREFIXES = ("model.language_model.", "language_model.model.", "model.", "")
"""Where the text model's keys live, most specific first: transformers >= 4.52 ``Gemma3ForConditionalGeneration``,
older ``Gemma3ForConditionalGeneration``, ``Gemma3ForCausalLM`` / the ComfyUI single file, a bare text model."""

SCALE_SUFFIXES = (".weight_scale", ".scale_weight")  # per-tensor (or per-row) fp8 weight scales, both spellings
ACTIVATION_SCALE_SUFFIXES = (".input_scale", ".scale_input")  # activation scales: unused when computing in bf16/fp32
QUANT_INFO_SUFFIX = ".comfy_quant"  # per-layer JSON (as uint8) naming the layout
FP8_FORMATS = ("float8_e4m3fn", "float8_e5m2")
FP8_DTYPES = (torch.float8_e4m3fn, torch.float8_e5m2)
UNSUPPORTED = "use a bf16 or fp8 (scaled) Gemma file"


def _weight_files(folder: Path) -> list[Path]:
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        weight_map = _json_file(index).get("weight_map")
        if not isinstance(weight_map, dict) or not all(isinstance(s, str) for s in weight_map.values()):
            raise CheckpointMismatch(f"{index}: has no weight_map of shard file names: a damaged model folder")
        return [folder / s for s in sorted(set(weight_map.values()))]
    single = folder / "model.safetensors"
    if single.is_file():
        return [single]
    raise MissingFile(f"no Gemma weights in {folder}: expected model.safetensors, or shards listed in model.safetensors.index.json")


def _folder_config(folder: Path) -> dict:
    path = folder / "config.json"
    if not path.is_file():
        raise MissingFile(f"{folder} has no config.json: point to the Gemma model folder written by save_pretrained (config.json + *.safetensors)")
    return _json_file(path)


def _json_file(path: Path) -> dict:
    """A JSON object from ``path``, or :class:`CheckpointMismatch` naming it."""
    try:
        data = json.loads(path.read_bytes())
    except (ValueError, RecursionError) as e:
        raise CheckpointMismatch(f"{path}: not valid JSON ({str(e)[:200]}): a damaged model folder") from None
    if not isinstance(data, dict):
        raise CheckpointMismatch(f"{path}: not a JSON object: a damaged model folder")
    return data


def gemma_config(source: str | os.PathLike) -> dict | None:
    """The full HF config of a Gemma source: a folder's ``config.json``, a packed file's ``gemma_config``; None for
    a single file that carries none (ComfyUI's Gemma 3)."""
    path = Path(source)
    if path.is_dir():
        return _folder_config(path)
    if path.is_file() and path.suffix == ".safetensors":
        return packed_config(CheckpointFile(path))
    if path.exists():
        raise CheckpointMismatch(f"{path} is not a Gemma model folder or a .safetensors file")
    raise MissingFile(f"Gemma text encoder not found: {path} (give a model folder or a .safetensors file from models/text_encoders)")


def foreign_file(keys) -> str | None:
    """What a file is when it holds no Gemma text model ("an LTX-2 checkpoint", "a LoRA", ...); None for a Gemma file."""
    if any(k.endswith("embed_tokens.weight") for k in keys):
        return None
    return what_it_is(keys) or "an LTX-2 checkpoint"


def text_part(config: dict | None) -> dict:
    """The text model's config within a full HF config (``gemma_config``); Gemma 3 12B's for a source without one."""
    return GEMMA3_12B_TEXT_CONFIG if config is None else config.get("text_config", config)


def text_model_type(text_config: dict, where: str | os.PathLike) -> str:
    """The config's key in :data:`TEXT_MODELS`, or an error naming ``where`` for a model LTX cannot encode with."""
    model_type = text_config.get("model_type", "gemma3_text")
    if model_type not in TEXT_MODELS:
        raise CheckpointMismatch(
            f"{where}: a Gemma text model of type {model_type!r} cannot encode LTX prompts; LTX-2 / 2.3 use Gemma 3 "
            "(gemma3_text), LTX-2.5 Gemma 4 unified (gemma4_unified_text)"
        )
    return model_type


def _hf_text_classes(model_type: str) -> tuple[type, type]:
    import transformers

    name, config_class, model_class = TEXT_MODELS[model_type]
    classes = getattr(transformers, config_class, None), getattr(transformers, model_class, None)
    if None in classes:
        raise ImportError(
            f"{name} needs transformers >= {TRANSFORMERS_FLOOR}: the installed transformers {transformers.__version__} has no {model_class}; "
            f"upgrade it in this Python environment: pip install 'transformers>={TRANSFORMERS_FLOOR},<6'"
        )
    return classes


def text_model_prefix(keys: set[str], where: Path) -> str:
    for prefix in TEXT_MODEL_PREFIXES:
        if prefix + "embed_tokens.weight" in keys:
            return prefix
    raise CheckpointMismatch(
        f"{where}: not a Gemma text encoder (it is {foreign_file(keys)}: no embed_tokens.weight under any of "
        f"{[p for p in TEXT_MODEL_PREFIXES if p]}); give the Gemma model folder or its .safetensors file (models/text_encoders)"
    )


def _bytes(t: torch.Tensor) -> bytes:
    return t.contiguous().view(torch.uint8).numpy().tobytes()


def _text_model_state(files: list[Path], weights: str) -> dict[str, LazyTensor]:
    """The text model's tensors (prefix removed) as lazy reads. fp8 weights stay fp8 with their scale under
    ``<layer>.weight_scale`` (``weights`` ``auto`` / ``fp8``) or are dequantised as they stream in (``full``)."""
    checkpoints = [CheckpointFile(f) for f in files]
    where = files[0] if len(files) == 1 else files[0].parent
    prefix = text_model_prefix({k for c in checkpoints for k in c.keys()}, where)
    raw: dict[str, LazyTensor] = {}
    for c in checkpoints:
        raw.update(c.lazy(prefix))
    scales = {k: raw.pop(k) for k in list(raw) if k.endswith(SCALE_SUFFIXES)}
    state: dict[str, LazyTensor] = {}
    for name in sorted(raw):
        tensor = raw.pop(name)
        if name.endswith(QUANT_INFO_SUFFIX):
            try:
                fmt = json.loads(_bytes(tensor.load())).get("format", "?")
            except (ValueError, AttributeError, RecursionError):
                fmt = "unreadable"
            if fmt not in FP8_FORMATS:
                raise CheckpointMismatch(f"{where}: {prefix}{name.removesuffix(QUANT_INFO_SUFFIX)} is quantised as {fmt!r}, which is not supported; {UNSUPPORTED}")
            continue
        if name.endswith(ACTIVATION_SCALE_SUFFIXES):
            continue
        if tensor.dtype in FP8_DTYPES:
            base = name.removesuffix(".weight")
            scale = next((scales[base + s] for s in SCALE_SUFFIXES if base + s in scales), None)
            if scale is None:
                scale = LazyTensor((1,), torch.float32, lambda: torch.ones(1))
            if weights != "full" and tensor.dtype == FP8:
                state[name], state[base + ".weight_scale"] = tensor, scale.then(lambda t: t.to(torch.float32), torch.float32)
                continue
            tensor = tensor.then(lambda w, scale=scale: dequantize(w, scale.load(), torch.float32), torch.float32)
        elif not tensor.dtype.is_floating_point:
            raise CheckpointMismatch(f"{where}: {prefix}{name} is stored as {tensor.dtype}, a quantised layout that is not supported; {UNSUPPORTED}")
        state[name] = tensor
    return state


def _keep_fp8(model: nn.Module, state: dict[str, LazyTensor], weights: str) -> None:
    """Swap in :class:`Fp8Linear` for the Linears the state keeps in fp8 (or, ``weights="fp8"``, for every Linear
    of the decoder layers, quantised as they load)."""
    for path, module in list(model.named_modules()):
        if not isinstance(module, nn.Linear):
            continue
        weight = state.get(path + ".weight")
        stored = weight is not None and weight.dtype == FP8
        if not stored and not (weights == "fp8" and path.startswith("layers.") and weight is not None):
            continue
        if not stored:
            state[path + ".weight"], state[path + ".weight_scale"] = quantized_at_load(weight)
        parent, _, name = path.rpartition(".")
        setattr(model.get_submodule(parent), name, Fp8Linear.like(module, scale_shape=state[path + ".weight_scale"].shape))


def _check_geometry(state: dict[str, torch.Tensor], config: dict, where: Path) -> None:
    """A clear message when the file is not the Gemma the config describes (e.g. another Gemma size)."""
    layers = {int(k.split(".")[1]) for k in state if k.startswith("layers.")}
    found = (len(layers), tuple(state["embed_tokens.weight"].shape))
    wanted = (config["num_hidden_layers"], (config["vocab_size"], config["hidden_size"]))
    if found != wanted:
        raise CheckpointMismatch(
            f"{where}: {found[0]} layers and embeddings {list(found[1])}, but the Gemma config expects "
            f"{wanted[0]} layers and embeddings {list(wanted[1])} (LTX-2 / 2.3 need Gemma 3 12B, LTX-2.5 Gemma 4 12B)"
        )


def build_gemma_text_model(text_config: dict, state: dict[str, torch.Tensor | LazyTensor], *, device="cpu", dtype: torch.dtype | None = None, what: str | None = None, weights: str = "full", defer: bool = False) -> nn.Module:
    """The HF text model of ``text_config``'s type (``Gemma3TextModel`` / ``Gemma4UnifiedTextModel``) built on
    meta and loaded strictly from ``state``."""
    model_type = text_model_type(text_config, what or "the Gemma text config")
    config_class, model_class = _hf_text_classes(model_type)
    config = config_class(**{**text_config, "attn_implementation": "sdpa"})
    model = build_on_meta(lambda: model_class(config))
    # Derived tables the files never store (RoPE inverse frequencies per layer type, the sqrt(hidden) embedding
    # scale): build them on the target device before the strict load, which fails on anything left on meta.
    with torch.device(device):
        model.rotary_emb = type(model.rotary_emb)(config)
    model.embed_tokens.embed_scale = torch.tensor(config.hidden_size**0.5, device=device)
    _keep_fp8(model, state, weights)
    return load_into(model, state, device=device, dtype=dtype, what=what or TEXT_MODELS[model_type][0], defer=defer)


def text_config_and_files(source: str | os.PathLike, text_config: dict | None = None) -> tuple[dict, list[Path]]:
    """(text config, weight files) of a Gemma model folder, packed file or single file; ``text_config`` overrides
    the one the source carries (or, for a single file without one, the bundled Gemma 3 12B config)."""
    path = Path(source)
    config = gemma_config(path)
    return text_config or text_part(config), (_weight_files(path) if path.is_dir() else [path])


def load_gemma_text_model(source: str | os.PathLike, *, text_config: dict | None = None, device="cpu", dtype: torch.dtype | None = torch.bfloat16, weights: str = "auto", defer: bool = False) -> nn.Module:
    """The Gemma language model from a model folder, a packed file or a single ``.safetensors`` file, streamed
    tensor by tensor (Gemma 3 or Gemma 4, as the config says: :data:`TEXT_MODELS`).

    ``weights``: ``auto`` keeps an fp8 file's Linears in fp8 (dequantised inside each forward), ``fp8`` also
    quantises a bf16 file's decoder Linears at load, ``full`` dequantises everything to ``dtype``. ``defer``:
    check the file, read the weights when first used (the low-RAM offload).

    ``text_config`` overrides the source's config (or, for a single file without one, the bundled Gemma 3 12B config).
    """
    path = Path(source)
    config, files = text_config_and_files(path, text_config)
    name = TEXT_MODELS[text_model_type(config, path)][0]
    state = _text_model_state(files, weights)
    _check_geometry(state, config, path)
    return build_gemma_text_model(config, state, device=device, dtype=dtype, what=f"{name} text model ({path.name})", weights=weights, defer=defer)


TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model")
EMBEDDED_TOKENIZER_KEY = "spiece_model"  # the SentencePiece model as raw bytes, in ComfyUI's single files


def _tokenizer_from_folder(folder: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(folder), local_files_only=True)


def _tokenizer_from_sentencepiece_bytes(data: bytes, origin: Path):
    try:
        import sentencepiece  # noqa: F401  (transformers needs it to read a tokenizer.model)
    except ImportError:
        raise MissingFile(
            f"{origin} embeds only a SentencePiece tokenizer ({EMBEDDED_TOKENIZER_KEY}), which needs the 'sentencepiece' "
            "package; install it, or give a tokenizer path: the Gemma 3 model folder or its tokenizer.json"
        ) from None
    from transformers import GemmaTokenizer

    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "tokenizer.model").write_bytes(data)
        return GemmaTokenizer.from_pretrained(tmp, local_files_only=True)


def load_gemma_tokenizer(source: str | os.PathLike, *, tokenizer: str | os.PathLike | None = None):
    """The Gemma tokenizer for ``source`` (the model folder or file given to ``load_gemma_text_model``).

    ``tokenizer`` may name a folder with ``tokenizer.json`` / ``tokenizer.model`` (any model folder of the same
    Gemma), a ``tokenizer.json`` file or a ``tokenizer.model`` file. Without it: the model folder itself, the
    tokenizer a packed file carries, or for ComfyUI's single file the SentencePiece model it embeds
    (``spiece_model``).
    """
    if tokenizer is not None:
        path = Path(tokenizer)
        if path.is_dir():
            if not any((path / f).is_file() for f in TOKENIZER_FILES):
                raise MissingFile(f"no Gemma tokenizer in {path}: expected {' or '.join(TOKENIZER_FILES)} there")
            return _tokenizer_from_folder(path)
        if path.is_file() and path.name.endswith(".json"):
            from transformers import PreTrainedTokenizerFast

            return PreTrainedTokenizerFast(tokenizer_file=str(path), bos_token="<bos>", eos_token="<eos>", pad_token="<pad>", unk_token="<unk>")
        if path.is_file() and path.suffix == ".model":
            return _tokenizer_from_sentencepiece_bytes(path.read_bytes(), path)
        raise MissingFile(f"Gemma tokenizer not found: {path} (give a folder with {' or '.join(TOKENIZER_FILES)}, or one of those files)")
    path = Path(source)
    if path.is_dir():
        if not any((path / f).is_file() for f in TOKENIZER_FILES):
            raise MissingFile(
                f"no Gemma tokenizer in {path}: put tokenizer.json (and tokenizer_config.json) from the Gemma model "
                "repository there, or give a tokenizer path"
            )
        return _tokenizer_from_folder(path)
    checkpoint = CheckpointFile(path)
    if packed_config(checkpoint) is not None:
        with tempfile.TemporaryDirectory() as tmp:
            write_tokenizer_folder(checkpoint, Path(tmp))
            return _tokenizer_from_folder(Path(tmp))
    if EMBEDDED_TOKENIZER_KEY not in checkpoint.shapes:
        raise MissingFile(
            f"{path} carries no tokenizer: give a tokenizer path (a Gemma 3 model folder, or its tokenizer.json "
            "or tokenizer.model)"
        )
    return _tokenizer_from_sentencepiece_bytes(_bytes(checkpoint.tensors(EMBEDDED_TOKENIZER_KEY, strip=False)[EMBEDDED_TOKENIZER_KEY]), path)
