"""The LTX-2 (19B) / LTX-2.3 (22B) / LTX-2.5 (22B) audio+video diffusion transformer.

Two token streams run side by side through ``num_layers`` shared blocks: video (B, Tv, D) and audio
(B, Ta, Da). The video tokens are ``patchify_proj(latent)``; 2.5 adds ``keyframes_abs_pos_embedding`` (1, D) to
the tokens its keyframes mask marks (latent frame 0 of a render), audio has no marker. 2.5 also drops the
video feed-forward biases (``ff_bias`` false). Each block, in order (N = RMS norm without weight):

1. video self-attention      vx += g * Attn(N(vx)(1+s)+h, RoPE_v)               (AdaLN rows 0..2)
2. video text cross-attention 19B: vx += Attn(N(vx), ctx)
                             2.3: vx += g_q * Attn(N(vx)(1+s_q)+h_q, ctx(1+s_kv)+h_kv)
                                  (rows 6..8; K/V rows from prompt_scale_shift_table + prompt AdaLN of sigma)
3./4. the same for audio
5. audio<->video cross-attention from the states after 1-4, both directions from the same states:
   A->V: vx += g_a2v * Attn(N(vx)(1+s)+h, N(ax)(1+s')+h', q RoPE = video time, k RoPE = audio time)
   V->A: ax += g_v2a * Attn(N(ax)(1+s)+h, N(vx)(1+s')+h', ...)
   (tables ``scale_shift_table_a2v_ca_{video,audio}``: rows scale_a2v, shift_a2v, scale_v2a, shift_v2a, gate)
6./7. FFNs: x += g * FF(N(x)(1+s)+h)                                           (rows 3..5)

Timestep rule (v1.2.0): AdaLN rows and the A/V scale/shift come from each token's own timestep
(sigma * denoise mask, so conditioning tokens carry 0); the prompt AdaLN (2.3) from the sample's own
sigma; the A->V gate from the AUDIO sigma and the V->A gate from the VIDEO sigma (times
``av_ca_timestep_scale_multiplier``). Output heads: LayerNorm (no affine), shift/scale from the
head's table plus the token's timestep embedding, then ``proj_out``. The network predicts velocity.

Every distinct timestep value is embedded once per call (a call with one sigma and a clean prefix
embeds two values), and RoPE tables are built once per call and shared by all blocks. A caller that makes
many calls over the same positions, contexts and denoise masks (the sampler) passes a :class:`ForwardCache`:
RoPE tables, caption projections, context masks and perturbation switches are then made once, and with
``ModalityInput.timestep_levels`` given the forward needs no host sync (no ``torch.unique``).

Work the samples of a batch share is done once. The text keys/values of a block are made once per distinct
context (``ModalityInput.context_index``: samples that take the same prompt share its row), and where they do
not depend on sigma (19B) the cache can keep them for later calls (``cache_text``). Samples declared twins of the
batch's first ones (an STG pass beside its conditional pass, same inputs) skip the blocks before the first where
their perturbation differs and join there as copies of their twins' states.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import partial

import torch
from torch import nn

from .adaln import AdaLNSingle
from .attention import Attention
from .feed_forward import FeedForward
from .forward_cache import ForwardCache
from .norms import layer_norm, rms_norm
from .ops import compute_dtype, layers
from .rope import RotaryTable, rotary_table

CONNECTOR_PREFIXES = ("video_embeddings_connector.", "audio_embeddings_connector.", "embeddings_connector.")
"""Keys under the DiT's file prefix that belong to the text path, not to the DiT."""



@dataclass(frozen=True)
class TransformerConfig:
    """The DiT's architecture, read from ``config["transformer"]`` of the checkpoint."""

    num_layers: int
    heads: int
    head_dim: int
    in_channels: int
    out_channels: int
    cross_attention_dim: int
    audio_heads: int
    audio_head_dim: int
    audio_in_channels: int
    audio_out_channels: int
    audio_cross_attention_dim: int
    caption_channels: int
    norm_eps: float
    rope_theta: float
    max_pos: tuple[int, ...]
    audio_max_pos: tuple[int, ...]
    midpoint_positions: bool
    rope_type: str
    float64_rope: bool
    timestep_scale: float
    av_timestep_scale: float
    gated_attention: bool
    cross_attention_adaln: bool
    caption_projection: bool
    prompt_adaln: bool
    ff_bias: bool
    audio_ff_bias: bool
    keyframes_embedding: bool

    @classmethod
    def from_config(cls, t: dict) -> "TransformerConfig":
        expected = {
            "activation_fn": "gelu-approximate",
            "qk_norm": "rms_norm",
            "standardization_norm": "rms_norm",
            "norm_elementwise_affine": False,
            "positional_embedding_type": "rope",
            "attention_bias": True,
            "share_ff": False,
            "use_audio_video_cross_attention": True,
            "av_cross_ada_norm": True,
        }
        for key, value in expected.items():
            if key in t and t[key] != value:
                raise ValueError(f"unsupported transformer config: {key} = {t[key]!r} (expected {value!r})")
        heads, audio_heads = t.get("num_attention_heads", 32), t.get("audio_num_attention_heads", 32)
        if heads != audio_heads:
            raise ValueError(f"video and audio head counts differ ({heads} vs {audio_heads}); the A/V cross RoPE needs them equal")
        return cls(
            num_layers=t.get("num_layers", 48),
            heads=heads,
            head_dim=t.get("attention_head_dim", 128),
            in_channels=t.get("in_channels", 128),
            out_channels=t.get("out_channels", 128),
            cross_attention_dim=t.get("cross_attention_dim", 4096),
            audio_heads=audio_heads,
            audio_head_dim=t.get("audio_attention_head_dim", 64),
            audio_in_channels=t.get("audio_in_channels", 128),
            audio_out_channels=t.get("audio_out_channels", 128),
            audio_cross_attention_dim=t.get("audio_cross_attention_dim", 2048),
            caption_channels=t.get("caption_channels", 3840),
            norm_eps=t.get("norm_eps", 1e-6),
            rope_theta=t.get("positional_embedding_theta", 10000.0),
            max_pos=tuple(t.get("positional_embedding_max_pos", [20, 2048, 2048])),
            audio_max_pos=tuple(t.get("audio_positional_embedding_max_pos", [20])),
            midpoint_positions=t.get("use_middle_indices_grid", True),
            rope_type=t.get("rope_type", "split"),
            float64_rope=t.get("frequencies_precision") == "float64",
            timestep_scale=t.get("timestep_scale_multiplier", 1000),
            # The code default is 1, but every released checkpoint states 1000; trust the file.
            av_timestep_scale=t.get("av_ca_timestep_scale_multiplier", 1),
            gated_attention=t.get("apply_gated_attention", False),
            cross_attention_adaln=t.get("cross_attention_adaln", False),
            caption_projection=not t.get("caption_proj_before_connector", False),
            prompt_adaln=t.get("cross_attention_adaln", False) and t.get("use_prompt_adaln_single", True),
            ff_bias=t.get("ff_bias", True),
            audio_ff_bias=t.get("audio_ff_bias", True),
            keyframes_embedding=t.get("use_keyframes_abs_pos_embedding", False),
        )

    @property
    def dim(self) -> int:
        return self.heads * self.head_dim

    @property
    def audio_dim(self) -> int:
        return self.audio_heads * self.audio_head_dim


@dataclass
class ModalityInput:
    """One stream's inputs to a forward call."""

    latent: torch.Tensor  # (B, T, C) tokens
    timesteps: torch.Tensor  # (B, T) per-token sigma (sigma * denoise mask; 0 = clean conditioning token)
    sigma: torch.Tensor  # (B,) the sample's sigma
    positions: torch.Tensor  # (B, axes, T, 2) [start, end) bounds (see positions.py)
    context: torch.Tensor  # (B, S, D_text) text context (19B: connector width; 2.3: the stream's width)
    context_mask: torch.Tensor | None = None  # (B, S) 1 = attend, 0 = masked; None = attend to all
    keyframes_mask: torch.Tensor | None = None  # (B, T) > 0 = marked keyframe token (2.5, video only); None = none
    # (levels (N,) float32, index (B or 1, T) long) with timesteps == levels[index]: the distinct timesteps, known
    # to the caller (sigma * the mask's distinct values); None = found here with torch.unique (a host sync)
    timestep_levels: tuple[torch.Tensor, torch.Tensor] | None = None
    # each sample's row of ``context`` (and ``context_mask``), which then hold the distinct contexts once (C, S, ...):
    # the text keys/values are made per row, not per sample. Samples that share a row share their sigma (the
    # guidance passes of a step do; 2.3 modulates the context with it). None = one row per sample (or one for all).
    context_index: tuple[int, ...] | None = None


@dataclass(frozen=True)
class Perturbation:
    """What one sample's pass switches off (guidance passes): STG and modality isolation."""

    skip_video_self_attn: tuple[int, ...] = ()  # blocks whose video self-attention becomes the identity map
    skip_audio_self_attn: tuple[int, ...] = ()
    skip_a2v: bool = False  # audio -> video cross-attention off in every block
    skip_v2a: bool = False

    def skips(self, block: int) -> tuple[bool, bool, bool, bool]:
        """What is off in ``block``: (video self-attention, audio self-attention, A->V, V->A)."""
        return block in self.skip_video_self_attn, block in self.skip_audio_self_attn, self.skip_a2v, self.skip_v2a


ISOLATED = Perturbation(skip_a2v=True, skip_v2a=True)


def text_cache_bytes(cfg: TransformerConfig, tokens: int, contexts: int = 1, dtype: torch.dtype = torch.bfloat16) -> int:
    """Bytes of the text keys/values a run keeps across steps with ``cache_text``: per block, the keys and values
    of both streams' text cross-attention for ``contexts`` distinct context rows (a prompt per sample; twice that
    with a negative prompt) of ``tokens`` tokens. 0 where they depend on sigma (2.3's prompt AdaLN): those are made
    per step and not kept. The full-size 19B at 1024 tokens in bf16 keeps 1.125 GiB per context."""
    if cfg.prompt_adaln:
        return 0
    return cfg.num_layers * contexts * tokens * 2 * (cfg.dim + cfg.audio_dim) * dtype.itemsize


@dataclass
class _Switch:
    """One attention's perturbation in one block: off for the whole batch, or a per-sample keep (B, 1, 1)."""

    all: bool = False
    keep: torch.Tensor | None = None


def _switch(flags: list[bool], device, dtype) -> _Switch:
    if all(flags):
        return _Switch(all=True)
    if not any(flags):
        return _Switch()
    return _Switch(keep=torch.tensor([0.0 if f else 1.0 for f in flags], device=device, dtype=dtype).view(-1, 1, 1))


@dataclass
class _Modulation:
    """AdaLN output rows stored once per distinct timestep: ``values`` (N, rows, D), ``index`` (B, T or 1) into N."""

    values: torch.Tensor
    index: torch.Tensor

    def rows(self, table: torch.Tensor, rows: slice, values_rows: slice | None = None) -> tuple[torch.Tensor, ...]:
        """table[rows] + the matching modulation rows, each (B, T, D)."""
        own = self.values[:, rows if values_rows is None else values_rows]
        return (table[rows].to(own) + own)[self.index].unbind(2)  # .to(own): a host may keep tables elsewhere

    def head(self, n: int) -> "_Modulation":
        return _Modulation(self.values, _first(self.index, n))


def _first(x: torch.Tensor | None, n: int) -> torch.Tensor | None:
    """The first ``n`` samples of a batch-shaped tensor; one of batch 1 (broadcast to all samples) as it is."""
    return x if x is None or x.shape[0] == 1 else x[:n]


@dataclass
class _Stream:
    """Everything a block needs about one modality, prepared once per call."""

    context: torch.Tensor  # (C, S, D) the distinct contexts (19B: projected)
    context_rows: torch.Tensor | None  # (B,) each sample's row of ``context``; None = ``context`` as it is
    context_mask: torch.Tensor | None  # additive, per sample
    mod: _Modulation
    prompt_mod: _Modulation | None  # per row of ``context`` (2.3)
    av_mod: _Modulation
    gate_mod: _Modulation
    rope: RotaryTable
    cross_rope: RotaryTable

    def head(self, n: int) -> "_Stream":
        """The stream of the batch's first ``n`` samples (its contexts stay whole: their keys/values are shared)."""
        return replace(
            self,
            context_rows=self.context_rows[:n],
            context_mask=_first(self.context_mask, n),
            mod=self.mod.head(n),
            av_mod=self.av_mod.head(n),
            gate_mod=self.gate_mod.head(n),
            rope=_first_table(self.rope, n),
            cross_rope=_first_table(self.cross_rope, n),
        )


def _first_table(table: RotaryTable, n: int) -> RotaryTable:
    """The table of a batch's first ``n`` samples."""
    return replace(table, cos=_first(table.cos, n), sin=_first(table.sin, n))


def _context_rows(index: tuple[int, ...], contexts: int, device) -> tuple[torch.Tensor, torch.Tensor]:
    """(each sample's context row, each row's first sample) on ``device``: a row is modulated with the sigma of the
    first sample that takes it (2.3; they all share it), a row no sample takes with sample 0's."""
    firsts = [index.index(c) if c in index else 0 for c in range(contexts)]
    return torch.tensor(index, device=device), torch.tensor(firsts, device=device)


class CaptionProjection(nn.Module):
    """19B: text context (caption_channels) -> stream width, Linear -> tanh GELU -> Linear."""

    def __init__(self, in_dim: int, dim: int):
        super().__init__()
        self.linear_1 = layers().Linear(in_dim, dim)
        self.linear_2 = layers().Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear_2(nn.functional.gelu(self.linear_1(x), approximate="tanh"))


class AudioVideoBlock(nn.Module):
    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        d, da, eps, gated = cfg.dim, cfg.audio_dim, cfg.norm_eps, cfg.gated_attention
        rows = 9 if cfg.cross_attention_adaln else 6
        self.eps = eps
        self.cross_attention_adaln = cfg.cross_attention_adaln
        self.attn1 = Attention(d, cfg.heads, cfg.head_dim, gated=gated, eps=eps)
        self.attn2 = Attention(d, cfg.heads, cfg.head_dim, context_dim=cfg.cross_attention_dim, gated=gated, eps=eps)
        self.ff = FeedForward(d, bias=cfg.ff_bias)
        self.scale_shift_table = nn.Parameter(torch.empty(rows, d))
        self.audio_attn1 = Attention(da, cfg.audio_heads, cfg.audio_head_dim, gated=gated, eps=eps)
        self.audio_attn2 = Attention(da, cfg.audio_heads, cfg.audio_head_dim, context_dim=cfg.audio_cross_attention_dim, gated=gated, eps=eps)
        self.audio_ff = FeedForward(da, bias=cfg.audio_ff_bias)
        self.audio_scale_shift_table = nn.Parameter(torch.empty(rows, da))
        # Both A/V directions run at the audio attention size.
        self.audio_to_video_attn = Attention(d, cfg.audio_heads, cfg.audio_head_dim, context_dim=da, gated=gated, eps=eps)
        self.video_to_audio_attn = Attention(da, cfg.audio_heads, cfg.audio_head_dim, context_dim=d, gated=gated, eps=eps)
        self.scale_shift_table_a2v_ca_audio = nn.Parameter(torch.empty(5, da))
        self.scale_shift_table_a2v_ca_video = nn.Parameter(torch.empty(5, d))
        if cfg.cross_attention_adaln:
            self.prompt_scale_shift_table = nn.Parameter(torch.empty(2, d))
            self.audio_prompt_scale_shift_table = nn.Parameter(torch.empty(2, da))

    def _self_attention(self, x, attn: Attention, table, s: _Stream, switch: _Switch) -> torch.Tensor:
        shift, scale, gate = s.mod.rows(table, slice(0, 3))
        h = rms_norm(x, self.eps) * (1 + scale) + shift
        return x + attn(h, rope=s.rope, value_only=switch.all, keep=switch.keep) * gate

    def _text_context(self, s: _Stream, prompt_table) -> torch.Tensor:
        """The text context as the cross-attention takes it (2.3: modulated by the prompt AdaLN or fixed rows)."""
        if not self.cross_attention_adaln:
            return s.context
        if s.prompt_mod is None:
            shift, scale = prompt_table.to(s.context).unbind(0)
        else:
            shift, scale = s.prompt_mod.rows(prompt_table, slice(0, 2))
        return s.context * (1 + scale) + shift

    def _text_attention(self, x, attn: Attention, table, prompt_table, s: _Stream, kv) -> torch.Tensor:
        """``kv``: the context's keys/values made beforehand, or None for the attention to make them."""
        xn = rms_norm(x, self.eps)
        if not self.cross_attention_adaln:
            return x + attn(xn, s.context, kv=kv, rows=s.context_rows, mask=s.context_mask)
        shift_q, scale_q, gate = s.mod.rows(table, slice(6, 9))
        context = None if kv is not None else self._text_context(s, prompt_table)
        return x + attn(xn * (1 + scale_q) + shift_q, context, kv=kv, rows=s.context_rows, mask=s.context_mask) * gate

    def _feed_forward(self, x, ff: FeedForward, table, s: _Stream) -> torch.Tensor:
        shift, scale, gate = s.mod.rows(table, slice(3, 6))
        return x + ff(rms_norm(x, self.eps) * (1 + scale) + shift) * gate

    def forward(self, vx, ax, v: _Stream, a: _Stream, switches: tuple[_Switch, _Switch, _Switch, _Switch] | None, text_kv=None):
        """-> (vx, ax) after the block. ``text_kv``: each stream's text (keys, values) per context row, made before
        by a call with ``vx`` None, which returns just them (a call of the block's own, so that its weights are where
        it runs); None: the attentions make them from the contexts."""
        prompt_v, prompt_a = getattr(self, "prompt_scale_shift_table", None), getattr(self, "audio_prompt_scale_shift_table", None)
        if vx is None:
            return self.attn2.key_value(self._text_context(v, prompt_v)), self.audio_attn2.key_value(self._text_context(a, prompt_a))
        v_self, a_self, a2v, v2a = switches
        v_kv, a_kv = (None, None) if text_kv is None else text_kv
        vx = self._self_attention(vx, self.attn1, self.scale_shift_table, v, v_self)
        vx = self._text_attention(vx, self.attn2, self.scale_shift_table, prompt_v, v, v_kv)
        ax = self._self_attention(ax, self.audio_attn1, self.audio_scale_shift_table, a, a_self)
        ax = self._text_attention(ax, self.audio_attn2, self.audio_scale_shift_table, prompt_a, a, a_kv)

        vn, an = rms_norm(vx, self.eps), rms_norm(ax, self.eps)
        table_v, table_a = self.scale_shift_table_a2v_ca_video, self.scale_shift_table_a2v_ca_audio
        vx_out, ax_out = vx, ax
        if not a2v.all:
            scale_v, shift_v = v.av_mod.rows(table_v, slice(0, 2))
            scale_a, shift_a = a.av_mod.rows(table_a, slice(0, 2))
            (gate,) = v.gate_mod.rows(table_v, slice(4, 5), slice(0, 1))
            out = self.audio_to_video_attn(vn * (1 + scale_v) + shift_v, an * (1 + scale_a) + shift_a, rope=v.cross_rope, k_rope=a.cross_rope) * gate
            vx_out = vx + (out if a2v.keep is None else out * a2v.keep)
        if not v2a.all:
            scale_a, shift_a = a.av_mod.rows(table_a, slice(2, 4))
            scale_v, shift_v = v.av_mod.rows(table_v, slice(2, 4))
            (gate,) = a.gate_mod.rows(table_a, slice(4, 5), slice(0, 1))
            out = self.video_to_audio_attn(an * (1 + scale_a) + shift_a, vn * (1 + scale_v) + shift_v, rope=a.cross_rope, k_rope=v.cross_rope) * gate
            ax_out = ax + (out if v2a.keep is None else out * v2a.keep)

        vx = self._feed_forward(vx_out, self.ff, self.scale_shift_table, v)
        ax = self._feed_forward(ax_out, self.audio_ff, self.audio_scale_shift_table, a)
        return vx, ax


class AudioVideoTransformer(nn.Module):
    """The DiT. Module and parameter names equal the checkpoint's keys after ``model.diffusion_model.``."""

    def __init__(self, cfg: TransformerConfig):
        super().__init__()
        self.cfg = cfg
        d, da = cfg.dim, cfg.audio_dim
        rows = 9 if cfg.cross_attention_adaln else 6
        self.patchify_proj = layers().Linear(cfg.in_channels, d)
        if cfg.keyframes_embedding:
            self.keyframes_abs_pos_embedding = nn.Parameter(torch.empty(1, d))
        self.adaln_single = AdaLNSingle(d, rows)
        self.scale_shift_table = nn.Parameter(torch.empty(2, d))
        self.proj_out = layers().Linear(d, cfg.out_channels)
        self.audio_patchify_proj = layers().Linear(cfg.audio_in_channels, da)
        self.audio_adaln_single = AdaLNSingle(da, rows)
        self.audio_scale_shift_table = nn.Parameter(torch.empty(2, da))
        self.audio_proj_out = layers().Linear(da, cfg.audio_out_channels)
        if cfg.caption_projection:
            self.caption_projection = CaptionProjection(cfg.caption_channels, d)
            self.audio_caption_projection = CaptionProjection(cfg.caption_channels, da)
        if cfg.prompt_adaln:
            self.prompt_adaln_single = AdaLNSingle(d, 2)
            self.audio_prompt_adaln_single = AdaLNSingle(da, 2)
        self.av_ca_video_scale_shift_adaln_single = AdaLNSingle(d, 4)
        self.av_ca_audio_scale_shift_adaln_single = AdaLNSingle(da, 4)
        self.av_ca_a2v_gate_adaln_single = AdaLNSingle(d, 1)
        self.av_ca_v2a_gate_adaln_single = AdaLNSingle(da, 1)
        self.transformer_blocks = nn.ModuleList([AudioVideoBlock(cfg) for _ in range(cfg.num_layers)])

    @classmethod
    def from_config(cls, config: dict) -> "AudioVideoTransformer":
        """Build from a checkpoint's full ``__metadata__["config"]`` (its ``transformer`` section)."""
        return cls(TransformerConfig.from_config(config["transformer"]))

    @property
    def dtype(self) -> torch.dtype:
        return compute_dtype(self, self.patchify_proj)

    # ---- per-call preparation -------------------------------------------------------------------

    def _per_token(self, adaln: AdaLNSingle, levels: torch.Tensor, index: torch.Tensor) -> tuple[_Modulation, torch.Tensor]:
        values, emb = adaln(levels * self.cfg.timestep_scale)
        return _Modulation(values.unflatten(-1, (adaln.rows, -1)), index), emb

    def _per_sample(self, adaln: AdaLNSingle, t: torch.Tensor) -> _Modulation:
        values, _ = adaln(t)
        index = torch.arange(t.shape[0], device=t.device).unsqueeze(1)
        return _Modulation(values.unflatten(-1, (adaln.rows, -1)), index)

    def tokens(self, inp: ModalityInput, video: bool) -> torch.Tensor:
        """The stream's tokens (B, T, D) as the first block gets them: the patchify projection of the latent,
        plus (video, 2.5) the keyframes embedding on the tokens ``inp.keyframes_mask`` marks."""
        x = getattr(self, "patchify_proj" if video else "audio_patchify_proj")(inp.latent.to(self.dtype))
        if video and inp.keyframes_mask is not None and self.cfg.keyframes_embedding:
            marked = (inp.keyframes_mask > 0).unsqueeze(-1).to(x)
            x = x + self.keyframes_abs_pos_embedding.to(x) * marked  # .to(x): a host may keep it elsewhere
        return x

    def _prepare(self, inp: ModalityInput, other_sigma: torch.Tensor, video: bool, cache: ForwardCache) -> tuple[torch.Tensor, torch.Tensor, _Stream]:
        """-> (tokens (B, T, D), per-token timestep embedding (B or 1, T, D) for the head, the blocks' view)."""
        cfg, dtype = self.cfg, self.dtype
        p = "" if video else "audio_"
        x = self.tokens(inp, video)
        # Embed every distinct timestep once; tokens index into the table.
        if inp.timestep_levels is None:
            levels, index = torch.unique(inp.timesteps.reshape(-1).to(torch.float32), return_inverse=True)
            index = index.view(inp.timesteps.shape)
        else:
            levels, index = inp.timestep_levels
        mod, emb = self._per_token(getattr(self, p + "adaln_single"), levels, index)
        av_adaln = self.av_ca_video_scale_shift_adaln_single if video else self.av_ca_audio_scale_shift_adaln_single
        av_mod, _ = self._per_token(av_adaln, levels, index)
        gate_adaln = self.av_ca_a2v_gate_adaln_single if video else self.av_ca_v2a_gate_adaln_single
        av_factor = cfg.av_timestep_scale / cfg.timestep_scale
        gate_mod = self._per_sample(gate_adaln, other_sigma.to(torch.float32) * cfg.timestep_scale * av_factor)
        context = cache.get((p + "context", dtype), lambda: self._context(inp.context, p), inp.context)
        rows = firsts = None
        if inp.context_index is not None:
            taken, contexts = inp.context_index, context.shape[0]
            if len(taken) != x.shape[0] or not all(0 <= r < contexts for r in taken):
                raise ValueError(f"context_index {taken} does not map a batch of {x.shape[0]} onto {contexts} context rows")
            rows, firsts = cache.get(("context_rows", taken, contexts, x.device), lambda: _context_rows(taken, contexts, x.device))
        prompt_mod = None
        if cfg.prompt_adaln:
            sigma = inp.sigma if firsts is None else inp.sigma.index_select(0, firsts)
            prompt_mod = self._per_sample(getattr(self, p + "prompt_adaln_single"), sigma.to(torch.float32) * cfg.timestep_scale)
        context_mask = None
        if inp.context_mask is not None:
            # Additive, as the reference: 0 where attended, -finfo.max where masked.
            mask = inp.context_mask
            context_mask = cache.get((p + "context_mask", dtype), lambda: (mask.to(dtype) - 1)[:, None, None, :] * torch.finfo(dtype).max, mask)
            context_mask = context_mask if rows is None else context_mask.index_select(0, rows)

        heads, dim = (cfg.heads, cfg.dim) if video else (cfg.audio_heads, cfg.audio_dim)
        max_pos = cfg.max_pos if video else cfg.audio_max_pos
        cross_max = max(cfg.max_pos[0], cfg.audio_max_pos[0])
        table = partial(rotary_table, heads=heads, theta=cfg.rope_theta, layout=cfg.rope_type, float64_grid=cfg.float64_rope, dtype=dtype)
        pos = inp.positions
        rope = cache.get((p + "rope", dtype), lambda: table(pos, dim=dim, max_pos=max_pos, midpoint=cfg.midpoint_positions), pos)
        cross_dim = cfg.audio_cross_attention_dim
        cross_rope = cache.get((p + "cross_rope", dtype), lambda: table(pos[:, 0:1], dim=cross_dim, max_pos=[cross_max], midpoint=True), pos)
        stream = _Stream(context, rows, context_mask, mod, prompt_mod, av_mod, gate_mod, rope, cross_rope)
        return x, emb[index], stream

    def _context(self, context: torch.Tensor, p: str) -> torch.Tensor:
        """The text context as the blocks take it (19B: through the stream's caption projection)."""
        context = context.to(self.dtype)
        return getattr(self, p + "caption_projection")(context) if self.cfg.caption_projection else context

    def rope_tables(self, video: ModalityInput, audio: ModalityInput) -> dict[str, RotaryTable]:
        """The four RoPE tables of a call (self and cross, per stream), for inspection and tests."""
        _, _, v = self._prepare(video, audio.sigma, True, ForwardCache())
        _, _, a = self._prepare(audio, video.sigma, False, ForwardCache())
        return {"video": v.rope, "audio": a.rope, "video_cross": v.cross_rope, "audio_cross": a.cross_rope}

    def _switches(self, samples: tuple[Perturbation, ...] | None, batch: int, device) -> list[tuple[_Switch, ...]]:
        if samples is None:
            return [(_Switch(),) * 4] * len(self.transformer_blocks)
        if len(samples) != batch:
            raise ValueError(f"{len(samples)} perturbations for a batch of {batch}")
        dtype = self.dtype
        a2v = _switch([p.skip_a2v for p in samples], device, dtype)
        v2a = _switch([p.skip_v2a for p in samples], device, dtype)
        return [
            (
                _switch([p.skips(i)[0] for p in samples], device, dtype),
                _switch([p.skips(i)[1] for p in samples], device, dtype),
                a2v,
                v2a,
            )
            for i in range(len(self.transformer_blocks))
        ]

    def _join_block(self, samples: tuple[Perturbation, ...] | None, twins: int) -> int:
        """The first block where one of the batch's last ``twins`` samples is perturbed otherwise than its twin among
        the first ``twins``; where none is, the last block (they join there at the latest)."""
        last = len(self.transformer_blocks) - 1
        if samples is None:
            return last
        pairs = list(zip(samples[:twins], samples[len(samples) - twins :]))
        return next((i for i in range(last) if any(p.skips(i) != q.skips(i) for p, q in pairs)), last)

    def _head(self, x: torch.Tensor, emb: torch.Tensor, table: torch.Tensor, proj: nn.Linear) -> torch.Tensor:
        shift, scale = (table.to(emb)[None, None] + emb[:, :, None]).unbind(2)
        return proj(layer_norm(x, self.cfg.norm_eps) * (1 + scale) + shift)

    def forward(
        self,
        video: ModalityInput,
        audio: ModalityInput,
        perturbation: Perturbation | Sequence[Perturbation] | None = None,
        cache: ForwardCache | None = None,
        *,
        cache_text: bool = False,
        twins: int = 0,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """-> (video velocity (B, Tv, out_channels), audio velocity (B, Ta, audio_out_channels)).

        ``perturbation``: one for the whole batch, or one per sample (batched guidance passes). ``cache``: shared by
        calls over the same positions, contexts and masks (see :class:`ForwardCache`). Inputs that are the same for
        every sample (positions, ``timestep_levels``' index, keyframes mask) may have batch 1.

        ``cache_text``: keep the blocks' text keys/values in ``cache`` for later calls over the same contexts, where
        they do not depend on sigma (19B; :func:`text_cache_bytes` says how much that holds). ``twins``: the batch's
        last ``twins`` samples have the same inputs as its first ``twins`` (with ``context_index`` given); they run
        only from the first block where their perturbation differs from their twins', from the twins' states there.
        """
        cache = ForwardCache() if cache is None else cache
        vx, v_emb, v = self._prepare(video, audio.sigma, True, cache)
        ax, a_emb, a = self._prepare(audio, video.sigma, False, cache)
        batch, device = vx.shape[0], vx.device
        if isinstance(perturbation, Perturbation):
            perturbation = (perturbation,) * batch
        elif perturbation is not None:
            perturbation = tuple(perturbation)
        switches = cache.get(("switches", perturbation, batch, device, self.dtype), lambda: self._switches(perturbation, batch, device))
        text_kv = None  # per block, None until made
        if cache_text and not self.cfg.prompt_adaln:
            text_kv = cache.get(("text_kv", self.dtype), lambda: [None] * len(self.transformer_blocks), v.context, a.context)
        start, head = 0, None  # the blocks before ``start`` run without the twins, on the ``head`` of the streams
        if twins:
            if 2 * twins > batch or v.context_rows is None or a.context_rows is None:
                raise ValueError(f"twins ({twins}) need a batch of at least twice as many ({batch}) and context_index on both streams")
            start = self._join_block(perturbation, twins)
        if start:
            n = batch - twins
            samples = None if perturbation is None else perturbation[:n]
            head = (v.head(n), a.head(n), cache.get(("switches", samples, n, device, self.dtype), lambda: self._switches(samples, n, device)))
            vx, ax = vx[:n], ax[:n]
        for i, block in enumerate(self.transformer_blocks):
            if start and i == start:  # the twins join as copies of their twins' states
                vx, ax = torch.cat((vx, vx[:twins])), torch.cat((ax, ax[:twins]))
            sv, sa, sw = head if i < start else (v, a, switches)
            if text_kv is not None and text_kv[i] is None:
                # once per run, so eagerly: the block's hooks run (its weights come in), its compiled graph would not
                # serve this call but gain a variant (``compile_blocks``)
                text_kv[i] = block._call_impl(None, None, sv, sa, None)
            vx, ax = block(vx, ax, sv, sa, sw[i], None if text_kv is None else text_kv[i])
        return (
            self._head(vx, v_emb, self.scale_shift_table, self.proj_out),
            self._head(ax, a_emb, self.audio_scale_shift_table, self.audio_proj_out),
        )
