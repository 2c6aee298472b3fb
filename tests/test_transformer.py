"""DiT behaviour beyond the fixtures: per-sample perturbations in one batch (batched guidance passes)."""

import torch
from parity_transformer_forward import inputs, load, positions
from reference import Case, cases

from ltx2.model.transformer import ISOLATED, ModalityInput, Perturbation


def stack(items: list[ModalityInput]) -> ModalityInput:
    return ModalityInput(*(torch.cat([getattr(m, f) for m in items]) for f in ("latent", "timesteps", "sigma", "positions", "context", "context_mask")))


def test_per_sample_perturbations_equal_separate_passes():
    case = Case(next(e for e in cases() if e["case"] == "ltx23/transformer_forward"))
    model = load(case)
    video, audio = inputs(case, *positions(case))
    stg = Perturbation(skip_video_self_attn=(1,), skip_audio_self_attn=(0, 1))
    passes = [None, stg, ISOLATED, Perturbation(skip_a2v=True)]
    with torch.no_grad():
        separate = [model(video, audio, p) for p in passes]
        batched = model(stack([video] * 4), stack([audio] * 4), [p or Perturbation() for p in passes])
    for i, (v, a) in enumerate(separate):
        torch.testing.assert_close(batched[0][i : i + 1], v, rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(batched[1][i : i + 1], a, rtol=1e-5, atol=1e-5)
    # and the passes really differ from each other
    assert not torch.allclose(separate[0][0], separate[1][0], atol=1e-3)
    # with A->V off everywhere video never sees audio, so V->A on or off changes the audio output only
    torch.testing.assert_close(separate[2][0], separate[3][0])
    assert not torch.allclose(separate[2][1], separate[3][1], atol=1e-3)
