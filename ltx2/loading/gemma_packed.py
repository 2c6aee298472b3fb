"""The packed Gemma file of LTX-2.5: a whole Hugging Face model folder in one ``.safetensors``.

The official ``text_encoders/gemma4-12b-with-proj-ltx-2.5*.safetensors`` carries

* the HF config as JSON in ``__metadata__["gemma_config"]`` (``model_type`` ``gemma4_unified``, its text part
  under ``text_config``), plus LTX's top-level ``gemma_version`` (``gemma4-12b-ltx-v1``), which the
  transformer file's ``gemma_source_checkpoint`` must name;
* ``tokenizer.json`` as the uint8 tensor ``tokenizer_json`` and the folder's other small files as uint8 tensors
  ``hf_asset__<file name>`` (``tokenizer_config.json`` and ``processor_config.json`` at least);
* the weights in ComfyUI's flat layout: the language model under ``model.``, the vision embedder under
  ``vision_model.`` / ``multi_modal_projector.``, and LTX's text projection ``text_embedding_projection.*``
  ("with-proj"), which belongs to the LTX text path, not to Gemma.
"""

from __future__ import annotations

import json
from pathlib import Path

from .build import CheckpointMismatch
from .checkpoint import CheckpointFile, MissingFile

CONFIG_KEY = "gemma_config"
TOKENIZER_KEY = "tokenizer_json"
ASSET_PREFIX = "hf_asset__"
REQUIRED_ASSETS = ("tokenizer_config.json", "processor_config.json")


def packed_config(checkpoint: CheckpointFile) -> dict | None:
    """The full HF config a packed file carries, or None for a file without ``gemma_config`` (ComfyUI's Gemma 3)."""
    raw = checkpoint.metadata.get(CONFIG_KEY)
    if raw is None:
        return None
    try:
        config = json.loads(raw)
    except ValueError as error:
        raise CheckpointMismatch(f"{checkpoint.path}: __metadata__[{CONFIG_KEY!r}] is not valid JSON ({error})") from None
    if not isinstance(config, dict):
        raise CheckpointMismatch(f"{checkpoint.path}: __metadata__[{CONFIG_KEY!r}] is not a JSON object")
    return config


def write_tokenizer_folder(checkpoint: CheckpointFile, folder: Path) -> None:
    """Unpack what a tokenizer needs into ``folder``: ``tokenizer.json``, the ``hf_asset__*`` files and the
    ``config.json`` (so ``AutoTokenizer`` finds the model type as it would in the original folder)."""
    missing = [key for key in (TOKENIZER_KEY, *(ASSET_PREFIX + name for name in REQUIRED_ASSETS)) if key not in checkpoint.shapes]
    if missing:
        raise MissingFile(f"{checkpoint.path} is a packed Gemma file without {', '.join(missing)}: give a tokenizer path (a Gemma model folder or its tokenizer.json)")
    files = {"tokenizer.json": TOKENIZER_KEY, **{key[len(ASSET_PREFIX) :]: key for key in checkpoint.keys(ASSET_PREFIX)}}
    for name, key in files.items():
        (folder / Path(name).name).write_bytes(checkpoint.read(key).numpy().tobytes())  # the name only: never a path outside
    (folder / "config.json").write_text(json.dumps(packed_config(checkpoint)))
