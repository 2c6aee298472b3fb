"""LTX-2 Chain for ComfyUI: long LTX-2 videos with sound, chunk by chunk."""

WEB_DIRECTORY = "./web"

if __package__:  # ComfyUI imports the folder as a package. Imported as a lone file (pytest does so when the
    # checkout's folder name, e.g. ``ltx2-chain``, is not a Python identifier) there is no package to load nodes from.
    from .nodes import comfy_entrypoint

    __all__ = ["WEB_DIRECTORY", "comfy_entrypoint"]
