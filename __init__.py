"""LTX-2 Chain for ComfyUI: long LTX-2 videos with sound, chunk by chunk."""

from .nodes import comfy_entrypoint

WEB_DIRECTORY = "./web"

__all__ = ["WEB_DIRECTORY", "comfy_entrypoint"]
