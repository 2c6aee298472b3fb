"""Load the LTX text encoder: Gemma 3 (its own folder or file) + the feature extractor from the LTX checkpoint."""

from __future__ import annotations

import os

import torch
from torch import nn

from ..text.encoder import Connector, TextEncoder
from ..text.features import feature_extractor_from_config
from ..text.gemma import MAX_LENGTH, GemmaEncoder
from .build import build_on_meta, load_into
from .checkpoint import CheckpointFile
from .gemma import load_gemma_text_model, load_gemma_tokenizer

PREFIX = "text_embedding_projection."


def load_feature_extractor(
    checkpoint: CheckpointFile, hidden_size: int, num_hidden_states: int, *, device="cpu", dtype: torch.dtype | None = None
) -> nn.Module:
    """Build from ``config["transformer"]`` on meta and load the ``text_embedding_projection.*`` tensors strictly.

    ``hidden_size`` and ``num_hidden_states`` (layers + 1) describe the Gemma model that feeds it.
    """
    transformer = checkpoint.config.get("transformer", {})
    module = build_on_meta(lambda: feature_extractor_from_config(transformer, hidden_size, num_hidden_states))
    state = checkpoint.lazy(PREFIX)
    return load_into(module, state, device=device, dtype=dtype, what=f"text embedding projection ({checkpoint.path.name})")


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
    """Gemma 3 from ``gemma`` (model folder or single file) and its tokenizer (see ``load_gemma_tokenizer``),
    plus the checkpoint's feature extractor sized from the Gemma config; connectors are optional (see
    ``ltx2.text.encoder``). ``weights`` / ``defer``: as :func:`load_gemma_text_model`."""
    model = load_gemma_text_model(gemma, text_config=gemma_text_config, device=device, dtype=dtype, weights=weights, defer=defer)
    encoder = GemmaEncoder(model, load_gemma_tokenizer(gemma, tokenizer=tokenizer), max_length=max_length)
    extractor = load_feature_extractor(checkpoint, encoder.hidden_size, encoder.num_hidden_states, device=device, dtype=dtype)
    return TextEncoder(encoder, extractor, video_connector=video_connector, audio_connector=audio_connector)
