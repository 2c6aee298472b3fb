"""Multi-head attention of the DiT and the text connectors.

q/k/v projections with bias, q/k RMSNorm (learned weight) over the full inner dim before the head split,
RoPE on q and k (each may have its own table: the audio<->video cross-attention rotates queries and keys
by their own modality's clock), scaled dot-product attention, optional per-head output gates (LTX-2.3:
``2 * sigmoid`` of a Linear on the query input, before ``to_out``), then ``to_out.0``.

A cross-attention over a context that many calls share (the text) may take the context's keys and values made
once beforehand (:meth:`Attention.key_value`); one whose samples share contexts may take them once each (``rows``:
the keys and values are made per context and each sample takes its context's).

``value_only`` is the STG perturbation of v1.2.0: the attention map becomes the identity, so the output
is the value projection of the input itself (then the gates and ``to_out`` as usual). ``keep`` blends
per sample (1 = attention, 0 = value projection) for batches that mix perturbed and clean passes.

The attention kernel is process-wide (:func:`set_attention_backend`): ``sdpa`` (PyTorch's
``scaled_dot_product_attention``, the default), or, when installed, ``sageattention`` (8-bit, approximate) or
``flash-attn``. Both of those run float16/bfloat16 on CUDA only and take no mask; a masked attention (the text
cross-attention given a context mask) always runs on SDPA.
"""

from __future__ import annotations

import importlib
import importlib.util
from functools import partial

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import InputError
from ..options import ATTENTION_BACKENDS
from .ops import layers
from .rope import RotaryTable

_MODULES = {"sageattention": "sageattention", "flash-attn": "flash_attn"}
_HEAD_DIMS = {"sageattention": (64, 96, 128), "flash-attn": tuple(range(8, 257, 8))}
_backend = "sdpa"
_kernel = None  # the optional backend's attention function, (B, T, H, D) layout


def attention_backend() -> str:
    """The attention backend in use."""
    return _backend


def attention_kernel(name: str):
    """The attention function of backend ``name`` (one of :data:`ATTENTION_BACKENDS`; None for sdpa), changing
    nothing.

    Raises :class:`~ltx2.errors.InputError` (field ``attention``) for an unknown name or a backend whose
    package is not installed."""
    if name not in ATTENTION_BACKENDS:
        raise InputError([("attention", f"unknown attention backend {name!r}; choose one of {', '.join(ATTENTION_BACKENDS)}")])
    if name == "sdpa":
        return None
    module = _MODULES[name]
    if importlib.util.find_spec(module) is None:
        raise InputError([("attention", f"{name} is not installed (pip install {name}); or choose the attention backend sdpa")])
    lib = importlib.import_module(module)
    if name == "sageattention":
        return partial(lib.sageattn, tensor_layout="NHD", is_causal=False)
    return lib.flash_attn_func


def set_attention_backend(name: str) -> None:
    """Use ``name`` for every unmasked attention from now on; raises what :func:`attention_kernel` raises."""
    global _backend, _kernel
    _kernel = attention_kernel(name)
    _backend = name


def _check(q: torch.Tensor) -> None:
    """Refuse inputs the optional backend cannot take, naming the option and the fix."""
    head_dim = q.shape[-1]
    if q.device.type != "cuda" or q.dtype not in (torch.float16, torch.bfloat16) or head_dim not in _HEAD_DIMS[_backend]:
        raise InputError(
            [
                (
                    "attention",
                    (
                        f"the {_backend} attention backend cannot run {q.dtype} on {q.device.type} with head size {head_dim} "
                        f"(it needs CUDA, float16 or bfloat16 and a head size in {_HEAD_DIMS[_backend][0]}..{_HEAD_DIMS[_backend][-1]}); "
                        "choose the attention backend sdpa"
                    ),
                )
            ]
        )


def attend(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Softmax attention of q (B, T, H, D) over k, v (B, S, H, D) -> (B, T, H, D), with the current backend.

    mask: additive, broadcastable to (B, H, T, S); masked calls always use SDPA."""
    if _kernel is None or mask is not None:
        return F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), attn_mask=mask).transpose(1, 2)
    _check(q)
    return _kernel(q, k, v)


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

    def key_value(self, context: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The keys (normalised, before RoPE) and values of ``context`` (B, S, context_dim), each (B, S, inner): what
        :meth:`forward` makes of it, for a caller that keeps them."""
        return self.k_norm(self.to_k(context)), self.to_v(context)

    def forward(
        self,
        x: torch.Tensor,
        context: torch.Tensor | None = None,
        *,
        kv: tuple[torch.Tensor, torch.Tensor] | None = None,
        rows: torch.Tensor | None = None,
        rope: RotaryTable | None = None,
        k_rope: RotaryTable | None = None,
        mask: torch.Tensor | None = None,
        value_only: bool = False,
        keep: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """x (B, T, query_dim), context (B, S, context_dim) or None (self-attention) -> (B, T, query_dim).

        kv: the context's :meth:`key_value`, made beforehand, in place of ``context``. rows: (B,) long, each sample's
        row of ``context`` (or ``kv``), which then holds each distinct context once (C, S, ...). mask: additive,
        broadcastable to (B, heads, T, S). keep: (B, 1, 1) in [0, 1] or None.
        """
        context = x if context is None else context
        if value_only:
            out = self.to_v(context)
        else:
            # values, queries, keys: the order the working-memory estimates (ltx2.memory.activations) count on
            v = self.to_v(context) if kv is None else kv[1]
            q = self.q_norm(self.to_q(x))
            k = self.k_norm(self.to_k(context)) if kv is None else kv[0]
            if rows is not None:
                k, v = k.index_select(0, rows), v.index_select(0, rows)
            if rope is not None:
                q = rope.rotate(q)
                k = (rope if k_rope is None else k_rope).rotate(k)
            q, k, vh = (z.unflatten(-1, (self.heads, self.head_dim)) for z in (q, k, v))
            out = attend(q, k, vh, mask).flatten(-2)
            if keep is not None:
                out = out * keep + v * (1 - keep)
        if self.to_gate_logits is not None:
            gates = 2.0 * torch.sigmoid(self.to_gate_logits(x))  # (B, T, heads)
            out = (out.unflatten(-1, (self.heads, self.head_dim)) * gates.unsqueeze(-1)).flatten(-2)
        return self.to_out[0](out)
