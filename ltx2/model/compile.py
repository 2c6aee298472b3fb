"""``torch.compile`` for the DiT: every transformer block compiled in place, each as one graph.

Only the blocks are compiled; the per-call preparation (patchify, the AdaLN of the distinct timesteps, RoPE
tables, which a :class:`~ltx2.model.forward_cache.ForwardCache` makes once per chunk anyway) and the output heads
stay eager. The blocks share one ``forward``, so one compiled graph serves all of them (their parameters are the
graph's inputs); a pass with another perturbation in a block (STG, modality isolation) or another token count
compiles once more. A block makes no host sync and no data-dependent branch, so ``fullgraph=True`` holds with the
default SDPA attention and the engine's own layers (an optional attention backend's kernel may not trace).
"""

from __future__ import annotations

from .transformer import AudioVideoTransformer


def compile_blocks(
    transformer: AudioVideoTransformer, mode: str | None = None, *, backend: str = "inductor", dynamic: bool | None = None, fullgraph: bool = True
) -> AudioVideoTransformer:
    """Compile each of ``transformer``'s blocks in place (``nn.Module.compile``) and return it.

    ``mode``: torch.compile's mode (None, "default", "reduce-overhead", "max-autotune", ...); ``backend`` and
    ``dynamic`` as torch.compile takes them. ``fullgraph``: each block must trace as one graph (our own layers do);
    False lets what the compiler cannot trace run eagerly between graphs, for layers a host swaps in (ComfyUI's
    partial loading casts weights per layer in code of its own, which other packs may patch). Compilation happens
    at the first forward; the weights are untouched."""
    for block in transformer.transformer_blocks:
        block.compile(mode=mode, backend=backend, dynamic=dynamic, fullgraph=fullgraph)
    return transformer
