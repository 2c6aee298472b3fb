"""DiT behaviour beyond the fixtures: per-sample perturbations in one batch (batched guidance passes), and where
LTX-2.5's first-frame marker applies."""

from dataclasses import replace

import torch
from parity_transformer_forward import inputs, load, positions
from reference import Case, cases
from torch import nn

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


def test_keyframes_marker_touches_only_the_marked_video_tokens():
    case = Case(next(e for e in cases() if e["case"] == "ltx25/transformer_forward"))
    model = load(case)
    video, audio = inputs(case, *positions(case))
    marked = video.keyframes_mask > 0
    assert 0 < int(marked.sum()) < marked.numel()
    with torch.no_grad():
        plain = model.tokens(replace(video, keyframes_mask=None), video=True)
        tokens = model.tokens(video, video=True)
        unmarked = model.tokens(replace(video, keyframes_mask=torch.zeros_like(video.keyframes_mask)), video=True)
        # audio never carries the marker, whatever mask it is given
        audio_tokens = model.tokens(audio, video=False)
        torch.testing.assert_close(model.tokens(replace(audio, keyframes_mask=torch.ones(audio.timesteps.shape)), video=False), audio_tokens, rtol=0, atol=0)
    torch.testing.assert_close(unmarked, plain, rtol=0, atol=0)
    torch.testing.assert_close(tokens[~marked], plain[~marked], rtol=0, atol=0)
    embedding = model.keyframes_abs_pos_embedding[0]
    torch.testing.assert_close(tokens[marked], plain[marked] + embedding, rtol=1e-6, atol=1e-6)
    assert float(embedding.abs().max()) > 0


def test_keyframes_mask_is_ignored_by_a_model_without_the_embedding():
    case = Case(next(e for e in cases() if e["case"] == "ltx23/transformer_forward"))
    model = load(case)
    video, audio = inputs(case, *positions(case))
    mask = torch.ones(video.timesteps.shape)
    with torch.no_grad():
        torch.testing.assert_close(model(replace(video, keyframes_mask=mask), audio), model(video, audio), rtol=0, atol=0)


def test_keyframes_embedding_is_brought_to_the_tokens_dtype():
    """A host may leave the embedding (a tensor of no layer) in its storage dtype; the DiT casts it where used."""
    case = Case(next(e for e in cases() if e["case"] == "ltx25/transformer_forward"))
    model = load(case)
    video, _ = inputs(case, *positions(case))
    with torch.no_grad():
        expected = model.tokens(video, video=True)
        model.keyframes_abs_pos_embedding = nn.Parameter(model.keyframes_abs_pos_embedding.to(torch.float64), requires_grad=False)
        got = model.tokens(video, video=True)
    assert got.dtype == torch.float32
    torch.testing.assert_close(got, expected)
