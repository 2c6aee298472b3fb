"""Model files for the loader nodes: what the combo widgets list, and the path a chosen name stands for.

Inside ComfyUI the folders are ComfyUI's own (``models/checkpoints``, ``models/text_encoders``, ``models/loras``,
... plus ``extra_model_paths.yaml``). Without ComfyUI (scripts, tests) they come from the environment variable
``LTX2CHAIN_MODELS``: one or more roots (separated by ``os.pathsep``), each laid out like ComfyUI's ``models/``
folder, with ``checkpoints/``, ``text_encoders/``, ``loras/``... subfolders.

Only ``.safetensors`` files are listed (the only format the engine reads). A Hugging Face model folder (a
``config.json`` beside the weights, e.g. ``gemma-3-12b-it/``) is listed as one entry ending in ``/`` where a
kind accepts folders (text encoders), and its files are not listed one by one.
"""

from __future__ import annotations

import os
from pathlib import Path

from . import host

ENV_VAR = "LTX2CHAIN_MODELS"
CHECKPOINTS = "checkpoints"
TEXT_ENCODERS = "text_encoders"
LORAS = "loras"
LATENT_UPSCALERS = "latent_upscale_models"
DIFFUSION_MODELS = "diffusion_models"
VAE = "vae"
WEIGHTS = ".safetensors"
TOKENIZER_FILES = ("tokenizer.json", "tokenizer.model")


def folders(kind: str) -> list[Path]:
    """Where ``kind`` models live, in search order."""
    if host.IN_COMFYUI:
        return host.model_folders(kind)
    roots = [Path(r) for r in os.environ.get(ENV_VAR, "").split(os.pathsep) if r]
    return [root / kind for root in roots]


def _is_model_folder(path: Path) -> bool:
    return (path / "config.json").is_file()


def _has_tokenizer(path: Path) -> bool:
    return any((path / name).is_file() for name in TOKENIZER_FILES)


def _walk(kind: str, model_folders: bool, tokenizers: bool) -> list[str]:
    names: set[str] = set()
    for base in folders(kind):
        if not base.is_dir():
            continue
        for dirpath, dirnames, filenames in os.walk(base, followlinks=True):
            here = Path(dirpath)
            rel = here.relative_to(base).as_posix()
            if here != base and ((model_folders and _is_model_folder(here)) or (tokenizers and _has_tokenizer(here))):
                names.add(rel + "/")
                dirnames.clear()
                continue
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            if not tokenizers:
                names.update((here / f).relative_to(base).as_posix() for f in filenames if f.endswith(WEIGHTS) and not f.startswith("."))
    return sorted(names, key=str.lower)


def list_models(kind: str, model_folders: bool = False) -> list[str]:
    """Names of the ``.safetensors`` files of ``kind`` (relative to their folder, ``/``-separated), plus model
    folders as ``name/`` when ``model_folders``."""
    return _walk(kind, model_folders, tokenizers=False)


def list_tokenizers() -> list[str]:
    """Folders under text_encoders holding a tokenizer (``tokenizer.json`` or ``tokenizer.model``)."""
    return _walk(TEXT_ENCODERS, model_folders=False, tokenizers=True)


def resolve(kind: str, name: str) -> Path:
    """The file or folder a listed ``name`` stands for; FileNotFoundError naming the folders searched."""
    searched = folders(kind)
    relative = Path(name.rstrip("/"))
    if not name or relative.is_absolute() or ".." in relative.parts:
        raise FileNotFoundError(f"{kind}: {name!r} is not a name from the {kind} folder")
    for base in searched:
        path = base / relative
        if path.exists():
            return path
    if not searched:
        where = f"no {kind} folder is configured (set {ENV_VAR} to a folder with a {kind}/ subfolder)"
    else:
        where = "looked in " + ", ".join(str(b) for b in searched)
    raise FileNotFoundError(f"{kind}: {name!r} not found; put it in the {kind} models folder ({where})")
