"""Load the LTX text encoder: Gemma (its own folder or file) + the feature extractor, after checking that the two
belong together.

Where the text projection (``text_embedding_projection.*``) lives: in the single-file LTX-2 / 2.3 checkpoint,
and for LTX-2.5 in the text-encoder file ("with-proj"), while the connectors stay in the transformer file. The
extractor's config always comes from the LTX checkpoint (``config["transformer"]``).

Which Gemma fits which checkpoint (:func:`check_gemma_version`, the reference's rule): a checkpoint whose metadata
names ``gemma_source_checkpoint.gemma_version`` (LTX-2.5: ``gemma4-12b-ltx-v1``) needs a text encoder that declares
exactly that ``gemma_version`` in its config; a checkpoint of model version 2.4 or later that names none cannot be
checked against a text encoder that declares one; older checkpoints (LTX-2, LTX-2.3) need Gemma 3.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import torch
from torch import nn

from ..text.encoder import Connector, TextEncoder
from ..text.features import feature_extractor_from_config
from ..text.gemma import MAX_LENGTH, GemmaEncoder
from .build import CheckpointMismatch, build_on_meta, load_into
from .checkpoint import CheckpointFile
from .gemma import foreign_file, gemma_config, load_gemma_text_model, load_gemma_tokenizer, text_model_type, text_part

log = logging.getLogger(__name__)

PREFIX = "text_embedding_projection."
SOURCE_KEY = "gemma_source_checkpoint"  # transformer metadata: JSON {"ltx_version": ..., "gemma_version": ...}
VERSIONED_SINCE = (2, 4)  # model versions from here on are expected to name their Gemma


def _source_gemma_version(checkpoint: CheckpointFile) -> str | None:
    raw = checkpoint.metadata.get(SOURCE_KEY)
    if raw is None:
        return None
    try:
        version = json.loads(raw)["gemma_version"]
    except (ValueError, KeyError, TypeError):
        raise CheckpointMismatch(f"{checkpoint.path}: __metadata__[{SOURCE_KEY!r}] is not JSON naming a gemma_version: {raw!r}") from None
    return str(version)


def check_gemma_version(checkpoint: CheckpointFile, gemma: str | os.PathLike) -> None:
    """Raise :class:`CheckpointMismatch` naming both files and both versions when the Gemma text encoder
    ``gemma`` (model folder, packed or single file) is not the one the LTX checkpoint (the transformer file)
    was trained with; reads headers and configs only."""
    gemma = Path(gemma)
    config = gemma_config(gemma)
    declared = config.get("gemma_version") if config else None
    wanted = _source_gemma_version(checkpoint)
    te = f"the text encoder {gemma.name}"
    if wanted is not None:
        if declared != wanted:
            foreign = foreign_file(CheckpointFile(gemma).shapes) if gemma.is_file() else None
            what = f"it is {foreign}, not a Gemma text encoder" if foreign else "Gemma 3, or not an LTX text encoder"
            found = f"declares gemma_version {declared!r}" if declared else f"declares no gemma_version ({what})"
            raise CheckpointMismatch(f"{checkpoint.path.name} needs the Gemma text encoder with gemma_version {wanted!r}, but {te} {found}; use the text encoder released with this model")
        return
    if checkpoint.version >= VERSIONED_SINCE:
        if declared:
            raise CheckpointMismatch(
                f"{checkpoint.path.name} (model version {checkpoint.model_version}) names no {SOURCE_KEY} to match "
                f"{te}, which declares gemma_version {declared!r}; use a checkpoint that names its Gemma"
            )
        log.warning("%s (model version %s) names no Gemma version; %s cannot be checked against it", checkpoint.path.name, checkpoint.model_version, te)
        return
    text_config = text_part(config)
    if text_model_type(text_config, gemma) != "gemma3_text":
        found = f"gemma_version {declared!r}" if declared else f"model type {text_config.get('model_type')!r}"
        raise CheckpointMismatch(
            f"{checkpoint.path.name} (model version {checkpoint.model_version or 'unset: LTX-2 / 2.3'}) needs Gemma 3 12B, but {te} is "
            f"a newer Gemma ({found}); give a Gemma 3 folder or file"
        )


def projection_file(checkpoint: CheckpointFile, gemma: str | os.PathLike | None = None) -> CheckpointFile:
    """The file holding ``text_embedding_projection.*``: the LTX checkpoint (LTX-2 / 2.3) or, failing that, the
    text-encoder file ``gemma`` (LTX-2.5)."""
    if checkpoint.keys(PREFIX):
        return checkpoint
    if gemma is not None and Path(gemma).is_file():
        text_file = CheckpointFile(Path(gemma))
        if text_file.keys(PREFIX):
            return text_file
    where = checkpoint.path.name + (f" nor in {Path(gemma).name}" if gemma is not None else "")
    raise CheckpointMismatch(
        f"no text projection ({PREFIX}*) in {where}: LTX-2 / 2.3 keep it in the checkpoint, LTX-2.5 in its text-encoder "
        "file (gemma4-12b-with-proj-ltx-2.5*.safetensors)"
    )


def load_feature_extractor(
    checkpoint: CheckpointFile,
    hidden_size: int,
    num_hidden_states: int,
    *,
    projection: CheckpointFile | None = None,
    device="cpu",
    dtype: torch.dtype | None = None,
) -> nn.Module:
    """Build from ``checkpoint.config["transformer"]`` on meta and load the ``text_embedding_projection.*``
    tensors strictly from ``projection`` (default: the checkpoint itself; see :func:`projection_file`).

    ``hidden_size`` and ``num_hidden_states`` (layers + 1) describe the Gemma model that feeds it.
    """
    transformer = checkpoint.config.get("transformer", {})
    source = projection or checkpoint
    module = build_on_meta(lambda: feature_extractor_from_config(transformer, hidden_size, num_hidden_states))
    state = source.lazy(PREFIX)
    return load_into(module, state, device=device, dtype=dtype, what=f"text embedding projection ({source.path.name})")


def load_text_encoder(
    checkpoint: CheckpointFile,
    gemma: str | os.PathLike,
    *,
    tokenizer: str | os.PathLike | None = None,
    gemma_text_config: dict | None = None,
    video_connector: Connector | None = None,
    audio_connector: Connector | None = None,
    max_length: int = MAX_LENGTH,
    device="cpu",
    dtype: torch.dtype | None = torch.bfloat16,
    weights: str = "auto",
    defer: bool = False,
) -> TextEncoder:
    """Gemma from ``gemma`` (model folder, LTX-2.5's packed file, or ComfyUI's single file) and its tokenizer
    (see ``load_gemma_tokenizer``), plus the feature extractor sized from the Gemma config, after
    :func:`check_gemma_version`. ``checkpoint`` is the LTX checkpoint (LTX-2.5: its transformer file).
    Connectors are optional (see ``ltx2.text.encoder``). ``weights`` / ``defer``: as :func:`load_gemma_text_model`."""
    check_gemma_version(checkpoint, gemma)
    projection = projection_file(checkpoint, gemma)
    model = load_gemma_text_model(gemma, text_config=gemma_text_config, device=device, dtype=dtype, weights=weights, defer=defer)
    encoder = GemmaEncoder(model, load_gemma_tokenizer(gemma, tokenizer=tokenizer), max_length=max_length)
    extractor = load_feature_extractor(checkpoint, encoder.hidden_size, encoder.num_hidden_states, projection=projection, device=device, dtype=dtype)
    return TextEncoder(encoder, extractor, video_connector=video_connector, audio_connector=audio_connector)
