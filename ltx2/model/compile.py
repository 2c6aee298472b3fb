"""``torch.compile`` for the DiT: every transformer block compiled in place, each as one graph.

Only the blocks are compiled; the per-call preparation (patchify, the AdaLN of the distinct timesteps, RoPE
tables, which a :class:`~ltx2.model.forward_cache.ForwardCache` makes once per chunk anyway) and the output heads
stay eager. The blocks share one ``forward``, so one compiled graph serves all of them (their parameters are the
graph's inputs); a pass with another perturbation in a block (STG, modality isolation) or another token count
compiles once more. A block makes no host sync and no data-dependent branch, so ``fullgraph=True`` holds with the
default SDPA attention (an optional attention backend's kernel may not trace).
"""

from __future__ import annotations

from .transformer import AudioVideoTransformer


def compile_blocks(transformer: AudioVideoTransformer, mode: str | None = None, *, backend: str = "inductor", dynamic: bool | None = None) -> AudioVideoTransformer:
    """Compile each of ``transformer``'s blocks in place (``nn.Module.compile``, ``fullgraph=True``) and return it.

    ``mode``: torch.compile's mode (None, "default", "reduce-overhead", "max-autotune", ...); ``backend`` and
    ``dynamic`` as torch.compile takes them. Compilation happens at the first forward; the weights are untouched."""
    for block in transformer.transformer_blocks:
        block.compile(mode=mode, backend=backend, dynamic=dynamic, fullgraph=True)
    return transformer
