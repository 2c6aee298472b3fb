"""Gemma as LTX's text encoder: prompts -> token ids -> every hidden state, stacked.

LTX-2 / 2.3 use Gemma 3 12B, LTX-2.5 the language model of Gemma 4 unified; both are HF text models with the
same calling convention, so this class serves both.

The LTX text path reads all ``num_hidden_layers + 1`` hidden states of the Gemma language model: the scaled
token embeddings (``embed * sqrt(hidden)``), the output of each decoder layer, and for the last layer its
output after the final norm (the HF ``output_hidden_states`` convention). They are stacked on a new last axis.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

MAX_LENGTH = 1024


class GemmaEncoder:
    """An HF Gemma text model (``Gemma3TextModel`` or ``Gemma4UnifiedTextModel``) and, optionally, its tokenizer."""

    def __init__(self, model: nn.Module, tokenizer=None, *, max_length: int = MAX_LENGTH):
        self.model = model
        self.tokenizer = tokenizer
        self.max_length = max_length

    @property
    def hidden_size(self) -> int:
        return self.model.config.hidden_size

    @property
    def num_hidden_states(self) -> int:
        return self.model.config.num_hidden_layers + 1

    @property
    def device(self) -> torch.device:
        return self.model.embed_tokens.weight.device

    def tokenize(self, prompts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Token ids and attention mask, both [B, max_length] int64: prompt stripped, ``<bos>`` first,
        truncated to ``max_length``, left-padded with the pad id (EOS if the tokenizer has none)."""
        if self.tokenizer is None:
            raise RuntimeError("this Gemma encoder was loaded without a tokenizer: load one (load_gemma_tokenizer) or pass token ids")
        tok = self.tokenizer
        bos = tok.bos_token_id
        pad = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
        input_ids = torch.full((len(prompts), self.max_length), pad, dtype=torch.long)
        mask = torch.zeros((len(prompts), self.max_length), dtype=torch.long)
        for row, prompt in enumerate(prompts):
            ids = list(tok(prompt.strip(), add_special_tokens=True)["input_ids"])
            if not ids or ids[0] != bos:
                ids.insert(0, bos)
            ids = ids[: self.max_length]
            input_ids[row, self.max_length - len(ids) :] = torch.tensor(ids)
            mask[row, self.max_length - len(ids) :] = 1
        return input_ids, mask

    @torch.inference_mode()
    def hidden_states(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """[B, T] ids + mask -> [B, T, hidden, layers + 1]. Rows of padded tokens hold values nobody uses."""
        out = self.model(
            input_ids=input_ids.to(self.device),
            attention_mask=attention_mask.to(self.device),
            output_hidden_states=True,
            use_cache=False,
        )
        return torch.stack(out.hidden_states, dim=-1)
