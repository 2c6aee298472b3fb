"""Which file holds which component: one official single-file checkpoint (LTX-2, LTX-2.3), or LTX-2.5's split
files (the transformer with the text connectors, the video VAE, the audio VAE with the vocoder), given one by one
or as a folder laid out as the official release (``diffusion_models/``, ``text_encoders/``, ``vae/``).

Every mismatch is found from the files' headers before anything is loaded, and reported as one error naming the
files and what fits: a split transformer without its VAEs, a VAE file that is another component, files of
different model versions, the diffusion video decoder (not supported: the conv decoder is).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError
from .build import CheckpointMismatch
from .checkpoint import COMPONENTS, CheckpointFile, MissingComponent, what_it_is

ROLES = {
    "transformer": (("transformer", "text connectors"), "the transformer"),
    "video_vae": (("video VAE",), "the video VAE"),
    "audio_vae": (("audio VAE", "vocoder"), "the audio VAE and vocoder"),
}
"""What each file of a split set holds (components of :data:`COMPONENTS`), and what it is called in messages."""
RELEASE_FOLDERS = {"transformer": "diffusion_models", "text_encoder": "text_encoders", "video_vae": "vae", "audio_vae": "vae"}
DIFFUSION_DECODER = "CausalDiffusionVAE"


@dataclass(frozen=True)
class ModelSet:
    transformer: Path
    video_vae: Path
    audio_vae: Path
    text_encoder: Path | None = None

    @property
    def split(self) -> bool:
        return self.video_vae != self.transformer

    def files(self) -> list[Path]:
        """The LTX files, each once (one for a single-file checkpoint)."""
        return list(dict.fromkeys((self.transformer, self.video_vae, self.audio_vae)))

    @classmethod
    def resolve(
        cls,
        checkpoint: str | os.PathLike,
        text_encoder: str | os.PathLike | None = None,
        *,
        vae: str | os.PathLike | None = None,
        audio_vae: str | os.PathLike | None = None,
        flags: dict[str, str] | None = None,
    ) -> ModelSet:
        """The files of one model: ``checkpoint`` is a single file, a split transformer file (then ``vae`` and
        ``audio_vae`` are needed), or a release folder. ``flags`` names the options in messages (CLI flags or node
        inputs: keys ``checkpoint``, ``vae``, ``audio_vae``)."""
        flags = {"checkpoint": "--checkpoint", "vae": "--vae", "audio_vae": "--audio-vae", **(flags or {})}
        checkpoint = Path(checkpoint)
        if checkpoint.is_dir():
            found = _release(checkpoint, flags)
            vae, audio_vae = vae or found["video_vae"], audio_vae or found["audio_vae"]
            text_encoder = text_encoder or found.get("text_encoder")
            checkpoint = found["transformer"]
        opened = {name: _open(path, flags[name]) for name, path in (("checkpoint", checkpoint), ("vae", vae), ("audio_vae", audio_vae)) if path}
        holds = {role for role in ROLES if not _lacks(opened["checkpoint"], role)}
        if "transformer" not in holds:
            kind = what_it_is(opened["checkpoint"].shapes)
            why = f"it is {kind}, not an LTX-2 checkpoint" if kind else f"it holds no LTX transformer: {_lacks(opened['checkpoint'], 'transformer')}"
            raise InputError([(flags["checkpoint"], f"{checkpoint.name}: {why}; give the model's transformer or single-file checkpoint")])
        if holds == set(ROLES):  # a single file holds everything
            extra = [(flags[n], f"{checkpoint.name} is a single-file checkpoint that holds its own VAEs: leave {flags[n]} out") for n in ("vae", "audio_vae") if n in opened]
            if extra:
                raise InputError(extra)
            return cls(checkpoint, checkpoint, checkpoint, _path(text_encoder))
        missing = [(flags[n], f"{checkpoint.name} holds only the transformer (split files, as LTX-2.5 ships): give {flags[n]} ({ROLES[role][1]} file of the same release)")
                   for n, role in (("vae", "video_vae"), ("audio_vae", "audio_vae")) if n not in opened]  # fmt: skip
        if missing:
            raise InputError(missing)
        for name, role in (("vae", "video_vae"), ("audio_vae", "audio_vae")):
            lacks = _lacks(opened[name], role)
            if lacks:
                raise InputError([(flags[name], f"{opened[name].path.name} is not {ROLES[role][1]} ({lacks})")])
        given = {"vae": Path(vae), "audio_vae": Path(audio_vae)}
        _check_versions(list(opened.values()), flags)
        _check_video_decoder(opened["vae"], flags["vae"])
        return cls(checkpoint, given["vae"], given["audio_vae"], _path(text_encoder))


def _path(p) -> Path | None:
    return None if p is None else Path(p)


def _open(path: str | os.PathLike, flag: str) -> CheckpointFile:
    """The file's header, checked; any fault of the file as an input error naming ``flag``."""
    try:
        return CheckpointFile(path)
    except CheckpointMismatch as error:
        raise InputError([(flag, str(error))]) from None


def _lacks(ckpt: CheckpointFile, role: str) -> str | None:
    """Why ``ckpt`` is not the file of ``role`` (the first component it lacks), or None."""
    for component in ROLES[role][0]:
        try:
            ckpt.require(component)
        except MissingComponent:
            section, prefix, _ = COMPONENTS[component]
            return f"no {prefix}* tensors" if section in ckpt.config else f"no {section!r} config section"
    return None


def _check_versions(files: list[CheckpointFile], flags: dict[str, str]) -> None:
    known = {f.model_version for f in files if f.model_version}
    if len(known) > 1:
        listed = ", ".join(f"{f.path.name} is {f.model_version or 'unversioned'}" for f in files)
        raise InputError([(flags["checkpoint"], f"the files are of different model versions ({listed}): use the transformer, VAE and audio VAE of one release")])


def _check_video_decoder(ckpt: CheckpointFile, flag: str) -> None:
    if ckpt.config.get("vae", {}).get("_class_name") == DIFFUSION_DECODER:
        raise InputError([(flag, f"{ckpt.path.name} is the diffusion video decoder ({DIFFUSION_DECODER}), which this engine does not run: use the conv decoder file of the same release (e.g. ltx-2.5-video-vae-conv-bf16.safetensors)")])


def _release(folder: Path, flags: dict[str, str]) -> dict[str, Path]:
    """The files of an official release folder: one transformer in diffusion_models/, the conv video VAE and the
    audio VAE in vae/, and (optional here) the text encoder in text_encoders/."""

    def pick(component: str, wanted, optional: bool = False) -> Path | None:
        where = folder / RELEASE_FOLDERS[component]
        candidates = sorted(p for p in where.glob("*.safetensors") if wanted(p.name.lower())) if where.is_dir() else []
        if len(candidates) == 1 or (optional and not candidates):
            return candidates[0] if candidates else None
        what = "none" if not candidates else ", ".join(p.name for p in candidates)
        raise InputError([(flags["checkpoint"], f"{folder}: expected one {component.replace('_', ' ')} file in {RELEASE_FOLDERS[component]}/, found {what}; give the files one by one instead")])

    return {
        "transformer": pick("transformer", lambda n: "transformer" in n),
        "video_vae": pick("video_vae", lambda n: "video-vae" in n and "conv" in n),
        "audio_vae": pick("audio_vae", lambda n: "audio-vae" in n),
        **({"text_encoder": te} if (te := pick("text_encoder", lambda n: True, optional=True)) else {}),
    }
