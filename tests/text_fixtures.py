"""Shared pieces for the text-path tests: the tiny Gemma 3 of the reference set and a tiny Gemma tokenizer."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from reference import path

TINY_GEMMA = path("fixtures/checkpoints/tiny-gemma3")


def tiny_text_config() -> dict:
    return json.loads((TINY_GEMMA / "config.json").read_text())["text_config"]


def tiny_gemma_state() -> dict[str, torch.Tensor]:
    """The tiny Gemma's text-model tensors as stored by save_pretrained (prefix removed)."""
    from safetensors.torch import load_file

    prefix = "language_model.model."  # how transformers 5 save_pretrained writes Gemma3ForConditionalGeneration
    return {k[len(prefix) :]: v for k, v in load_file(TINY_GEMMA / "model.safetensors").items() if k.startswith(prefix)}


def tiny_tokenizer(add_bos_token: bool):
    """A Gemma tokenizer with a made-up 12-entry vocabulary (Gemma's special ids: pad 0, eos 1, bos 2)."""
    from transformers import GemmaTokenizer

    words = ["▁", "▁a", "▁cat", "▁sat", "▁on", "▁the", "▁mat", "a", "cat", "sat", "on", "the"]
    vocab = {"<pad>": 0, "<eos>": 1, "<bos>": 2, "<unk>": 3, "<mask>": 4, **{w: 5 + i for i, w in enumerate(words)}}
    return GemmaTokenizer(vocab=vocab, merges=[], add_bos_token=add_bos_token)


def save_tiny_tokenizer(folder: Path, add_bos_token: bool = True) -> Path:
    tiny_tokenizer(add_bos_token).save_pretrained(str(folder))
    return folder
