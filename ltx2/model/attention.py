"""Multi-head attention of the DiT and the text connectors.

q/k/v projections with bias, q/k RMSNorm (learned weight) over the full inner dim before the head split,
RoPE on q and k (each may have its own table: the audio<->video cross-attention rotates queries and keys
by their own modality's clock), SDPA, optional per-head output gates (LTX-2.3: ``2 * sigmoid`` of a
Linear on the query input, before ``to_out``), then ``to_out.0``.

``value_only`` is the STG perturbation of v1.2.0: the attention map becomes the identity, so the output
is the value projection of the input itself (then the gates and ``to_out`` as usual). ``keep`` blends
per sample (1 = attention, 0 = value projection) for batches that mix perturbed and clean passes.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .ops import layers
from .rope import RotaryTable


class Attention(nn.Module):
    def __init__(self, query_dim: int, heads: int, head_dim: int, *, context_dim: int | None = None, gated: bool = False, eps: float = 1e-6):
        super().__init__()
        inner = heads * head_dim
        context_dim = query_dim if context_dim is None else context_dim
        self.heads, self.head_dim = heads, head_dim
        self.q_norm = layers().RMSNorm(inner, eps=eps)
        self.k_norm = layers().RMSNorm(inner, eps=eps)
        self.to_q = layers().Linear(query_dim, inner)
        self.to_k = layers().Linear(context_dim, inner)
        self.to_v = layers().Linear(context_dim, inner)
        self.to_gate_logits = layers().Linear(query_dim, heads) if gated else None
        self.to_out = nn.ModuleList([layers().Linear(inner, query_dim)])

    def forward(
        self,
        x: torch.Tensor,
        context: torch.Tensor | None = None,
        *,
        rope: RotaryTable | None = None,
        k_rope: RotaryTable | None = None,
        mask: torch.Tensor | None = None,
        value_only: bool = False,
        keep: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """x (B, T, query_dim), context (B, S, context_dim) or None (self-attention) -> (B, T, query_dim).

        mask: additive, broadcastable to (B, heads, T, S). keep: (B, 1, 1) in [0, 1] or None.
        """
        context = x if context is None else context
        v = self.to_v(context)
        if value_only:
            out = v
        else:
            q = self.q_norm(self.to_q(x))
            k = self.k_norm(self.to_k(context))
            if rope is not None:
                q = rope.rotate(q)
                k = (rope if k_rope is None else k_rope).rotate(k)
            b, t, _ = q.shape
            q, k, vh = (z.unflatten(-1, (self.heads, self.head_dim)).transpose(1, 2) for z in (q, k, v))
            out = F.scaled_dot_product_attention(q, k, vh, attn_mask=mask).transpose(1, 2).reshape(b, t, -1)
            if keep is not None:
                out = out * keep + v * (1 - keep)
        if self.to_gate_logits is not None:
            gates = 2.0 * torch.sigmoid(self.to_gate_logits(x))  # (B, T, heads)
            out = (out.unflatten(-1, (self.heads, self.head_dim)) * gates.unsqueeze(-1)).flatten(-2)
        return self.to_out[0](out)
