"""The one module that touches ComfyUI. Everything else in ``nodes/`` imports the host API from here.

Inside ComfyUI this re-exports the V3 node API (``comfy_api.latest``); with no ComfyUI installed it falls back
to the standalone stand-in, so the nodes still import and run (tests, scripts).
"""

try:
    from comfy_api.latest import ComfyExtension, io

    IN_COMFYUI = True
except ImportError:
    from . import v3_standalone as io
    from .v3_standalone import ComfyExtension

    IN_COMFYUI = False

NODE_PREFIX = "LTX2Chain_"
"""Every node id starts with this; ids are permanent (saved workflows store them)."""
CATEGORY = "LTX-2 Chain"

__all__ = ["CATEGORY", "IN_COMFYUI", "NODE_PREFIX", "ComfyExtension", "io"]
