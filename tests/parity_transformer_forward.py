"""Runner for ``transformer_forward`` cases: positions, RoPE tables and the five velocity variants; for 2.5 also
the video tokens after the patchify projection (with the first-frame marker) and the velocity without the marker."""

from __future__ import annotations

import torch

from ltx2.loading.checkpoint import CheckpointFile
from ltx2.loading.transformer import load_transformer
from ltx2.model.positions import audio_positions, video_positions
from ltx2.model.transformer import ISOLATED, ModalityInput, Perturbation


def positions(case) -> tuple[torch.Tensor, torch.Tensor]:
    v = case.args["video"]
    _, _, f, h, w = v["latent_shape"]
    steps = case.args["audio"]["latent_shape"][2]
    return video_positions(f, h, w, v["fps"], batch=v["batch"]), audio_positions(steps, batch=v["batch"])


def inputs(case, vpos, apos, *, mask: bool = True, uniform_sigma: bool = False, keyframes: bool = True) -> tuple[ModalityInput, ModalityInput]:
    i = case.inputs
    v_t, a_t, v_sigma, a_sigma = i["video_timesteps"], i["audio_timesteps"], i["video_sigma"], i["audio_sigma"]
    if uniform_sigma:
        v_t = v_sigma[:, None].expand_as(v_t)
        a_t = v_sigma[:, None].expand_as(a_t)
        a_sigma = v_sigma
    context_mask = i["context_mask"] if mask else None
    keyframes_mask = i.get("video_keyframes_mask") if keyframes else None
    video = ModalityInput(i["video_latent"], v_t, v_sigma, vpos, i["video_context"], context_mask, keyframes_mask)
    audio = ModalityInput(i["audio_latent"], a_t, a_sigma, apos, i["audio_context"], context_mask)
    return video, audio


def load(case):
    return load_transformer(CheckpointFile(case.checkpoint_file("transformer")), dtype=torch.float32)


def run(case) -> None:
    vpos, apos = positions(case)
    case.check("video_positions", vpos)
    case.check("audio_positions", apos)
    model = load(case)
    with torch.no_grad():
        tables = model.rope_tables(*inputs(case, vpos, apos))
        for name, table in tables.items():
            cos, sin = table.per_head()
            case.check(f"{name}_rope_cos", cos)
            case.check(f"{name}_rope_sin", sin)
        last = len(model.transformer_blocks) - 1
        stg = Perturbation(skip_video_self_attn=(last,), skip_audio_self_attn=(last,))
        variants = {
            "": (dict(), None),
            "_nomask": (dict(mask=False), None),
            "_stg": (dict(), stg),
            "_isolated": (dict(), ISOLATED),
            "_uniform_sigma": (dict(uniform_sigma=True), None),
        }
        if "video_keyframes_mask" in case.inputs:
            variants["_no_keyframes_mask"] = (dict(keyframes=False), None)
            case.check("video_hidden_after_patchify", model.tokens(inputs(case, vpos, apos)[0], video=True))
        for suffix, (options, perturbation) in variants.items():
            v, a = model(*inputs(case, vpos, apos, **options), perturbation)
            case.check(f"video_velocity{suffix}", v)
            case.check(f"audio_velocity{suffix}", a)
