"""The Euler denoise loop with the DiT, conditioning by denoise mask and joint audio, against the reference.

The helpers build the case's starting states and velocity model; ``parity_denoise_loop_ancestral`` reuses them.
"""

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
    # every render marks its latent frame 0 (the reference's initial state always does; only 2.5 reads it)
    positions = video_positions(frames, height, width, fps, batch=batch)
    state = TokenState.empty(torch.zeros(batch, frames * height * width, channels), positions, first_frame_tokens=height * width)
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


def initial_states(case) -> tuple[TokenState, TokenState]:
    """The conditioned, noised starting states; checks every initial-state tensor the case records."""
    v, a = case.args["video"], case.args["audio"]
    b, c, f, h, w = v["latent_shape"]
    _, ac, at, am = a["latent_shape"]
    video = video_state(case, b, c, f, h, w, v["fps"])
    audio = TokenState.empty(torch.zeros(b, at, ac * am), audio_positions(at, batch=b))
    if "audio_initial_latent" in case.inputs:  # continuation: the audio before the cut is kept exactly
        start = float(case.args["conditioning_audio"].split("start_time=")[1].split(" s")[0])
        audio = keep_before(audio, patchify_audio(case.inputs["audio_initial_latent"]), start)
    initial = {
        "video_positions": video.positions,
        "audio_positions": audio.positions,
        "video_denoise_mask": video.mask[..., 0],
        "audio_denoise_mask": audio.mask[..., 0],
        "video_clean_latent": video.clean,
        "video_keyframes_mask": video.keyframes,
    }
    for name, value in initial.items():
        if name in case.expected:  # the ancestral case records fewer; the harness fails any left unchecked
            case.check(name, value)
    video, audio = noised(video, case.inputs["video_noise"]), noised(audio, case.inputs["audio_noise"])
    case.check("video_latent_init", video.latent)
    case.check("audio_latent_init", audio.latent)
    return video, audio


def velocity_model(case) -> DiTVelocity:
    dit = load_transformer(CheckpointFile(case.checkpoint_file("transformer")), dtype=torch.float32)
    return DiTVelocity(dit, case.inputs["video_context"], case.inputs["audio_context"])


def check_final(case, video: TokenState, audio: TokenState) -> None:
    _, _, f, h, w = case.args["video"]["latent_shape"]
    case.check("video_latent", unpatchify_video(video.target().latent, f, h, w))
    case.check("audio_latent", unpatchify_audio(audio.latent, case.args["audio"]["latent_shape"][1]))


def run(case):
    video, audio = initial_states(case)
    model = velocity_model(case)
    with torch.no_grad():
        video, audio = sample(model, video, audio, torch.tensor(case.args["sigmas"], dtype=torch.float32), record=case.check)
    check_final(case, video, audio)
