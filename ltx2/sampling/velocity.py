"""The DiT as the sampler's velocity model: token states in, velocities out, with per-token timesteps.

Without guidance this is one conditional pass. With guidance it adds the passes the guidance needs (negative
prompt, STG perturbation, modality isolation), combines their x0 predictions per modality (``guidance.py``)
and returns the velocity that reproduces the guided x0. The passes of a step run as one batch (one sample per
pass, each with its own perturbation), or one after another with ``batch_passes=False`` or when the negative
prompt's contexts are not shaped like the positive ones.

One wrapper serves one run of the sampler, whose positions, contexts and denoise masks stay fixed: it keeps a
:class:`~ltx2.model.forward_cache.ForwardCache` for what derives from them (RoPE tables, caption projections, the
distinct mask values, the 19B's text keys/values), so a step makes no host sync and rebuilds nothing that does not
change. A batched step also computes what its passes share once: the text keys/values of each distinct prompt, and
the STG pass's blocks before its first skipped one (there it takes over the conditional pass's states).
"""

from __future__ import annotations

import torch

from ..model.forward_cache import ForwardCache
from ..model.transformer import ISOLATED, AudioVideoTransformer, ModalityInput, Perturbation
from .guidance import NO_GUIDANCE, Guidance
from .tokens import TokenState


def _tile(x: torch.Tensor, n: int, broadcast: bool = False) -> torch.Tensor:
    """x for n passes stacked on the batch dim; with ``broadcast`` a batch of 1 stays as it is (the DiT broadcasts
    positions, timestep indices and the keyframes mask)."""
    return x if n == 1 or (broadcast and x.shape[0] == 1) else x.repeat(n, *[1] * (x.dim() - 1))


def _distinct(mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The distinct values of a (B, T, 1) denoise mask and each token's index into them (B, T)."""
    return torch.unique(mask[..., 0], return_inverse=True)


class DiTVelocity:
    """``cache_text``: each block's text keys/values are made once per distinct context. Where they do not depend on
    sigma (19B) that is once per run, kept in the cache across steps: 1.125 GiB (1.2 GB) per prompt at full size
    (1024 tokens, bf16; a negative prompt doubles it; :func:`~ltx2.model.transformer.text_cache_bytes` counts it). With
    the prompt AdaLN (2.3) it is once per step, shared by the batched passes, nothing kept. False: every pass of
    every step makes its own (nothing kept: the least memory).

    ``share_stg_prefix``: a batched step runs the STG pass only from its first skipped block on, from the conditional
    pass's states there (the same computation up to there). False runs it through every block (for comparison).
    """

    def __init__(
        self,
        dit: AudioVideoTransformer,
        video_context: torch.Tensor,
        audio_context: torch.Tensor,
        *,
        negative: tuple[torch.Tensor, torch.Tensor] | None = None,
        guidance: tuple[Guidance, Guidance] = (NO_GUIDANCE, NO_GUIDANCE),
        batch_passes: bool = True,
        cache_text: bool = True,
        share_stg_prefix: bool = True,
        cache: ForwardCache | None = None,
    ):
        self.dit = dit
        self.contexts = (video_context, audio_context)
        self.negative = negative
        self.guidance = guidance
        self.cache_text = cache_text
        self.cache = ForwardCache() if cache is None else cache
        if any(g.needs_negative for g in guidance) and negative is None:
            raise ValueError("classifier-free guidance needs a negative prompt's contexts")
        self.passes = self._passes()
        shapes_match = all(c[m].shape == self.contexts[m].shape for _, c, _ in self.passes for m in (0, 1))
        self.batched = batch_passes and len(self.passes) > 1 and shapes_match
        # the STG pass (last) is the conditional one (first) up to its first skipped block
        self.twins = share_stg_prefix and self.batched and self.passes[-1][0] == "perturbed"
        self.stacked = self.rows = None
        if self.batched:  # the contexts stacked once (they stay the same for every step), each pass taking its rows
            contexts = [c for _, c, _ in self.passes]
            if cache_text:  # each distinct one once
                distinct = list({id(c): c for c in contexts}.values())
                which = [[d is c for d in distinct].index(True) for c in contexts]
            else:  # one per pass
                distinct, which = contexts, range(len(contexts))
            b = video_context.shape[0]
            self.stacked = tuple(torch.cat([c[m] for c in distinct]) for m in (0, 1))
            # (with one context per pass, only the STG pass's late start needs the rows)
            self.rows = tuple(r * b + j for r in which for j in range(b)) if cache_text or self.twins else None

    def _passes(self) -> list[tuple[str, tuple[torch.Tensor, torch.Tensor], Perturbation | None]]:
        """(name, contexts, perturbation) of every pass a step runs, the conditional one first, the STG one last."""
        gv, ga = self.guidance
        passes = [("cond", self.contexts, None)]
        if gv == ga == NO_GUIDANCE:
            return passes
        if gv.needs_negative or ga.needs_negative:
            passes.append(("negative", self.negative, None))
        if gv.needs_isolated or ga.needs_isolated:
            passes.append(("isolated", self.contexts, ISOLATED))
        if gv.needs_perturbed or ga.needs_perturbed:
            passes.append(("perturbed", self.contexts, Perturbation(skip_video_self_attn=gv.stg_blocks, skip_audio_self_attn=ga.stg_blocks)))
        return passes

    def _input(self, state: TokenState, sigma: torch.Tensor, context: torch.Tensor, n: int, keyframes: torch.Tensor | None = None) -> ModalityInput:
        """The DiT's input for ``n`` passes over ``state`` stacked on the batch dim (``context`` already stacked,
        ``self.rows`` saying which pass takes which of its rows)."""
        cache = self.cache
        levels, index = cache.get("mask_levels", lambda: _distinct(state.mask), state.mask)  # one host sync per run
        index = cache.get(("tile", n), lambda: _tile(index, n, True), index)
        positions = cache.get(("tile", n), lambda: _tile(state.positions, n, True), state.positions)
        if keyframes is not None:
            keyframes = cache.get(("tile", n), lambda: _tile(keyframes, n, True), keyframes)
        b = state.latent.shape[0]
        return ModalityInput(
            _tile(state.latent, n),
            _tile(sigma * state.mask[..., 0], n),
            sigma.expand(n * b),
            positions,
            context,
            keyframes_mask=keyframes,
            timestep_levels=((sigma * levels).to(torch.float32), index),
            context_index=self.rows,
        )

    def _run(self, video, audio, sigma, contexts, n: int, perturbation, twins: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
        # the first-frame marker is a video feature: audio tokens are never marked
        video_input = self._input(video, sigma, contexts[0], n, video.keyframes)
        return self.dit(video_input, self._input(audio, sigma, contexts[1], n), perturbation, self.cache, cache_text=self.cache_text, twins=twins)

    def _all_passes(self, video: TokenState, audio: TokenState, sigma: torch.Tensor) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        if not self.batched:
            return {name: self._run(video, audio, sigma, contexts, 1, p) for name, contexts, p in self.passes}
        n, b = len(self.passes), video.latent.shape[0]
        samples = [p or Perturbation() for _, _, p in self.passes for _ in range(b)]
        v, a = self._run(video, audio, sigma, self.stacked, n, samples, b if self.twins else 0)
        return {name: (v[i * b : (i + 1) * b], a[i * b : (i + 1) * b]) for i, (name, _, _) in enumerate(self.passes)}

    def __call__(self, video: TokenState, audio: TokenState, sigma: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        passes = self._all_passes(video, audio, sigma)
        gv, ga = self.guidance
        if gv == ga == NO_GUIDANCE:
            return passes["cond"]
        out = []
        for m, (state, guidance) in enumerate(((video, gv), (audio, ga))):
            scale = sigma * state.mask.float()  # x0 = x - v * sigma * mask, per token
            x = state.latent.float()
            x0 = {name: x - v[m].float() * scale for name, v in passes.items()}
            guided = guidance.combine(x0["cond"], x0.get("negative"), x0.get("perturbed"), x0.get("isolated"))
            # back to a velocity; pinned tokens (scale 0) keep the conditional one (their x0 is replaced anyway)
            out.append(torch.where(scale > 0, (x - guided) / scale.clamp_min(1e-12), passes["cond"][m].float()))
        return out[0], out[1]
