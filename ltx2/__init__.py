"""LTX-2 Chain engine: long LTX-2 / LTX-2.3 videos with sound, rendered as a chain of chunks.

Pure PyTorch; usable without ComfyUI. ``python -m ltx2 --help`` lists the command-line tools.
"""

__version__ = "0.1.0"
