"""The Euler denoise loop with the DiT, conditioning by denoise mask and joint audio, against the reference."""

import torch

from ltx2.loading.checkpoint import CheckpointFile
from ltx2.loading.transformer import load_transformer
from ltx2.model.patchify import (
    patchify_audio,
    patchify_video,
    unpatchify_audio,
    unpatchify_video,
)
from ltx2.model.positions import audio_positions, keyframe_positions, video_positions
from ltx2.sampling.conditioning import (
    append_tokens,
    keep_before,
    noised,
    replace_tokens,
)
from ltx2.sampling.euler import sample
from ltx2.sampling.tokens import TokenState
from ltx2.sampling.velocity import DiTVelocity


def video_state(case, batch, channels, frames, height, width, fps):
    state = TokenState.empty(torch.zeros(batch, frames * height * width, channels), video_positions(frames, height, width, fps, batch=batch))
    for cond in case.args["conditionings_video"]:
        latent = case.inputs[cond["latent"].removeprefix("inputs.")]
        if cond["type"] == "VideoConditionByLatentIndex":
            state = replace_tokens(state, cond["latent_idx"] * height * width, patchify_video(latent), cond["strength"])
        elif cond["type"] == "VideoConditionByKeyframeIndex":
            positions = keyframe_positions(cond["frame_idx"], cond["num_pixel_frames"], height, width, fps, batch=batch)
            state = append_tokens(state, patchify_video(latent), positions, cond["strength"])
        else:
            raise AssertionError(f"unknown conditioning {cond['type']}")
    return state


def run(case):
    v, a = case.args["video"], case.args["audio"]
    b, c, f, h, w = v["latent_shape"]
    _, ac, at, am = a["latent_shape"]
    video = video_state(case, b, c, f, h, w, v["fps"])
    audio = TokenState.empty(torch.zeros(b, at, ac * am), audio_positions(at, batch=b))
    if "audio_initial_latent" in case.inputs:  # continuation: the audio before the cut is kept exactly
        start = float(case.args["conditioning_audio"].split("start_time=")[1].split(" s")[0])
        audio = keep_before(audio, patchify_audio(case.inputs["audio_initial_latent"]), start)
    case.check("video_positions", video.positions)
    case.check("audio_positions", audio.positions)
    case.check("video_denoise_mask", video.mask[..., 0])
    case.check("audio_denoise_mask", audio.mask[..., 0])
    case.check("video_clean_latent", video.clean)
    video, audio = noised(video, case.inputs["video_noise"]), noised(audio, case.inputs["audio_noise"])
    case.check("video_latent_init", video.latent)
    case.check("audio_latent_init", audio.latent)

    model = DiTVelocity(load_transformer(CheckpointFile(case.checkpoint), dtype=torch.float32), case.inputs["video_context"], case.inputs["audio_context"])
    with torch.no_grad():
        video, audio = sample(model, video, audio, torch.tensor(case.args["sigmas"], dtype=torch.float32), record=case.check)
    case.check("video_latent", unpatchify_video(video.target().latent, f, h, w))
    case.check("audio_latent", unpatchify_audio(audio.latent, ac))
