"""``torch.compile`` for the DiT: every transformer block compiled in place, each as one graph.

Only the blocks are compiled; the per-call preparation (patchify, the AdaLN of the distinct timesteps, RoPE
tables, which a :class:`~ltx2.model.forward_cache.ForwardCache` makes once per chunk anyway) and the output heads
stay eager. The blocks share one ``forward``, so one compiled graph serves all of them (their parameters are the
graph's inputs); a pass with another perturbation in a block (STG, modality isolation) or another token count
compiles once more. A block makes no host sync and no data-dependent branch, so it traces as one graph with the
default SDPA attention and the engine's own layers (an optional attention backend's kernel may not trace).
"""

from __future__ import annotations

from .transformer import AudioVideoTransformer

RECOMPILE_LIMIT = 64


def compile_blocks(transformer: AudioVideoTransformer, mode: str | None = None, *, backend: str = "inductor", dynamic: bool | None = None) -> AudioVideoTransformer:
    """Compile each of ``transformer``'s blocks in place (``nn.Module.compile``) and return it.

    ``mode``: torch.compile's mode (None, "default", "reduce-overhead", "max-autotune", ...); ``backend`` and
    ``dynamic`` as torch.compile takes them. Compilation happens at the first forward; the weights are untouched.

    A block traces as one graph (``tests/test_speed.py`` holds it to ``fullgraph=True``), but the compile does not
    insist on it: where a host's layers cast their weights in code the compiler cannot trace (ComfyUI's partial
    loading, and packs that patch it) the graph breaks there, and a variant past dynamo's recompile limit runs
    eagerly, where ``fullgraph=True`` would stop the render. Each guidance pattern and size is a variant (a guided
    step makes 3 more than an unguided one), so the limit is raised to :data:`RECOMPILE_LIMIT` (never lowered)."""
    from torch._dynamo import config  # (imported when asked for: the engine loads faster without it)

    config.recompile_limit = max(config.recompile_limit, RECOMPILE_LIMIT)
    for block in transformer.transformer_blocks:
        block.compile(mode=mode, backend=backend, dynamic=dynamic)
    return transformer
