"""Text embeddings connector (``Embeddings1DConnector``): text features -> the DiT's text context.

Weights live in the LTX file under ``model.diffusion_model.{video,audio}_embeddings_connector.``.
Given features (B, T, D) from the feature extractor and the tokenizer mask (B, T):

1. valid tokens move to the front in their order (a stable sort, so left or right padding both work);
2. every padded slot p >= n_valid becomes ``learnable_registers[p mod R]``, and from then on every
   token attends to every token (the reference requires T to be a multiple of R; with that, the two agree);
3. blocks: h += Attn(N(h), RoPE over token index p / max_pos), h += FF(N(h)) (N = RMS, no weight;
   2.3 attention is gated);
4. a final N(h).

The result is (B, T, D) in that valid-first order, and the DiT receives it with no text mask.
19B: both connectors are ``connector_*`` sized and the DiT's caption projections follow; 2.3: the audio
connector has its own head sizes (``audio_connector_*``) and the widths already match the DiT.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .attention import Attention
from .feed_forward import FeedForward
from .norms import rms_norm
from .ops import compute_dtype
from .rope import rotary_table


@dataclass(frozen=True)
class ConnectorConfig:
    heads: int
    head_dim: int
    num_layers: int
    num_registers: int
    rope_theta: float
    max_pos: tuple[int, ...]
    rope_type: str
    float64_rope: bool
    gated_attention: bool
    ff_bias: bool
    norm_eps: float

    @classmethod
    def from_config(cls, t: dict, audio: bool) -> "ConnectorConfig":
        """From ``config["transformer"]``; ``audio`` picks the ``audio_connector_*`` sizes where present."""

        def size(key: str, default: int) -> int:
            return t.get(f"audio_{key}", t.get(key, default)) if audio else t.get(key, default)

        return cls(
            heads=size("connector_num_attention_heads", 30),
            head_dim=size("connector_attention_head_dim", 128),
            num_layers=size("connector_num_layers", 2),
            num_registers=t.get("connector_num_learnable_registers", 128) or 0,
            rope_theta=t.get("positional_embedding_theta", 10000.0),
            max_pos=tuple(t.get("connector_positional_embedding_max_pos", [1])),
            rope_type=t.get("rope_type", "split"),
            float64_rope=t.get("frequencies_precision") == "float64",
            gated_attention=t.get("connector_apply_gated_attention", False),
            ff_bias=t.get("connector_ff_bias", True),
            norm_eps=t.get("norm_eps", 1e-6),
        )

    @property
    def dim(self) -> int:
        return self.heads * self.head_dim


class ConnectorBlock(nn.Module):
    def __init__(self, cfg: ConnectorConfig):
        super().__init__()
        self.eps = cfg.norm_eps
        self.attn1 = Attention(cfg.dim, cfg.heads, cfg.head_dim, gated=cfg.gated_attention, eps=cfg.norm_eps)
        self.ff = FeedForward(cfg.dim, bias=cfg.ff_bias)

    def forward(self, h: torch.Tensor, rope, mask: torch.Tensor | None) -> torch.Tensor:
        h = h + self.attn1(rms_norm(h, self.eps), rope=rope, mask=mask)
        return h + self.ff(rms_norm(h, self.eps))


class EmbeddingsConnector(nn.Module):
    def __init__(self, cfg: ConnectorConfig):
        super().__init__()
        self.cfg = cfg
        self.transformer_1d_blocks = nn.ModuleList([ConnectorBlock(cfg) for _ in range(cfg.num_layers)])
        if cfg.num_registers:
            self.learnable_registers = nn.Parameter(torch.empty(cfg.num_registers, cfg.dim))

    def forward(self, features: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """features (B, T, D), mask (B, T) 1 = real token -> context (B, T, D), valid tokens first."""
        cfg = self.cfg
        dtype = compute_dtype(self, self.transformer_1d_blocks[0].attn1.to_q) if cfg.num_layers else features.dtype
        valid = mask.to(torch.int32)
        order = torch.argsort(valid, dim=-1, descending=True, stable=True)
        h = torch.gather(features.to(dtype), 1, order.unsqueeze(-1).expand_as(features))
        b, t, _ = h.shape
        slot = torch.arange(t, device=h.device)
        padded = slot[None, :] >= valid.sum(-1, keepdim=True)  # (B, T) after the reorder
        attn_mask = None
        if cfg.num_registers:
            registers = self.learnable_registers.to(dtype)[slot % cfg.num_registers]  # (T, D)
            h = torch.where(padded.unsqueeze(-1), registers.unsqueeze(0), h)
        else:
            attn_mask = (padded.to(dtype) * -torch.finfo(dtype).max)[:, None, None, :]
        positions = slot.to(torch.float32).expand(b, 1, t)
        rope = rotary_table(
            positions, dim=cfg.dim, heads=cfg.heads, theta=cfg.rope_theta, max_pos=cfg.max_pos,
            layout=cfg.rope_type, float64_grid=cfg.float64_rope, midpoint=False, dtype=dtype,
        )
        for block in self.transformer_1d_blocks:
            h = block(h, rope, attn_mask)
        return rms_norm(h, cfg.norm_eps)
