"""The LTX-2.5 distilled stage-1 loop with ancestral Euler, against the reference: the per-step re-noise draws
are the case's recorded ones, fed through the sampler's noise source."""

import re

import torch
from parity_denoise_loop import check_final, initial_states, velocity_model

from ltx2.sampling.euler import Ancestral, sample


def recorded_noise(case):
    """The reference's draws for step i, video and audio; asking for a draw it did not make fails."""

    def draw(step: int, modality: str, latent: torch.Tensor) -> torch.Tensor:
        return case.inputs[f"{modality}_step_noise{step}"]

    return draw


def run(case):
    eta, s_noise = re.match(r"EulerAncestralDiffusionStep\(eta=([\d.]+), s_noise=([\d.]+)\)", case.args["sampler"]).groups()
    video, audio = initial_states(case)
    model = velocity_model(case)

    def record(name: str, value: torch.Tensor) -> None:
        if "_x0_step" not in name:  # the case records the blended x0 only
            case.check(name, value)

    with torch.no_grad():
        sigmas = torch.tensor(case.args["sigmas"], dtype=torch.float32)
        video, audio = sample(model, video, audio, sigmas, record=record, ancestral=Ancestral(recorded_noise(case), float(eta), float(s_noise)))
    check_final(case, video, audio)
