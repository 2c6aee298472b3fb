"""The values of the engine's options, in a module that imports nothing heavy: the CLI's parser, ``plan``, ``schema``
and ``--help`` read them without importing torch (the modules that act on them import them from here)."""

WEIGHT_MODES = ("auto", "fp8", "full")
"""How the DiT's and Gemma's weights are held (ltx2.loading.transformer): as the file, block Linears in fp8, all full."""
OFFLOAD_MODES = ("none", "model", "blocks")
"""What stays on the compute device between phases (ltx2.memory.residency)."""
HANDOFF_MODES = ("reencode", "latent")
"""How a chunk's tail reaches the next (ltx2.pipeline.settings)."""
SAMPLERS = ("auto", "euler", "ancestral")
"""The denoise step (ltx2.pipeline.settings)."""
SEAMS_MAX_SIDE = 256
"""Pixels on the longer side the seam report measures frames at (ltx2.seams.source)."""
TRACK_ENDS = ("error", "silence", "loop")
"""What a soundtrack shorter than the video does past its end (ltx2.media.soundtrack)."""
SOURCE_SOUNDS = ("auto", "keep", "regenerate")
"""A source video's sound: kept as the soundtrack, regenerated, or kept when it has one (the CLI's --video-sound)."""
ATTENTION_BACKENDS = ("sdpa", "sageattention", "flash-attn")
"""Attention kernels: PyTorch's SDPA, or an optional package when installed (ltx2.model.attention)."""
