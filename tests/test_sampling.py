import torch

from ltx2.model.patchify import (
    patchify_audio,
    patchify_video,
    unpatchify_audio,
    unpatchify_video,
)
from ltx2.sampling.conditioning import (
    append_tokens,
    keep_before,
    noised,
    replace_tokens,
)
from ltx2.sampling.euler import sample
from ltx2.sampling.tokens import TokenState


def test_video_tokens_are_in_f_h_w_order():
    latent = torch.randn(2, 5, 3, 4, 6)
    tokens = patchify_video(latent)
    assert tokens.shape == (2, 3 * 4 * 6, 5)
    f, h, w = 2, 1, 5
    assert torch.equal(tokens[:, f * 24 + h * 6 + w], latent[:, :, f, h, w])
    assert torch.equal(unpatchify_video(tokens, 3, 4, 6), latent)


def test_audio_tokens_flatten_channel_major():
    latent = torch.randn(1, 2, 7, 16)
    tokens = patchify_audio(latent)
    assert tokens.shape == (1, 7, 32)
    assert torch.equal(tokens[0, 3, 1 * 16 + 9], latent[0, 1, 3, 9])
    assert torch.equal(unpatchify_audio(tokens, 2), latent)


def positions(t):
    start = torch.arange(t, dtype=torch.float32) / 25
    return torch.stack([start, start + 0.04], dim=-1).view(1, 1, t, 2)


def test_one_euler_step_by_hand():
    state = TokenState.empty(torch.full((1, 1, 1), 2.0), positions(1))

    def model(video, audio, sigma):
        return torch.ones_like(video.latent), torch.ones_like(audio.latent)

    records = {}
    video, _ = sample(model, state, state, torch.tensor([0.5, 0.25]), record=records.__setitem__)
    # x0 = 2 - 1 * 0.5 = 1.5; x' = 2 + (2 - 1.5) / 0.5 * (0.25 - 0.5) = 1.75
    assert records["video_x0_step0"].item() == 1.5
    assert video.latent.item() == 1.75


def test_strength_one_tokens_never_move_and_strength_sets_the_mask():
    torch.manual_seed(0)
    base = TokenState.empty(torch.zeros(1, 6, 4), positions(6))
    pinned = torch.randn(1, 2, 4)
    state = replace_tokens(base, 2, pinned, strength=1.0)
    state = replace_tokens(state, 0, torch.randn(1, 1, 4), strength=0.75)
    assert state.mask[0, :, 0].tolist() == [0.25, 1.0, 0.0, 0.0, 1.0, 1.0]
    state = noised(state, torch.randn(1, 6, 4))
    assert torch.equal(state.latent[:, 2:4], pinned)

    def model(video, audio, sigma):  # any velocities at all
        return torch.randn_like(video.latent) * 10, torch.randn_like(audio.latent)

    video, _ = sample(model, state, state, torch.tensor([1.0, 0.7, 0.3, 0.0]))
    assert torch.equal(video.latent[:, 2:4], pinned)


def test_appended_tokens_are_dropped_by_target():
    base = TokenState.empty(torch.zeros(1, 4, 3), positions(4))
    key = append_tokens(base, torch.ones(1, 2, 3), positions(2) + 10, strength=0.5)
    assert key.latent.shape[1] == 6 and key.mask[0, 4:, 0].tolist() == [0.5, 0.5]
    assert torch.equal(key.clean[:, 4:], torch.ones(1, 2, 3)) and key.latent[:, 4:].abs().sum() == 0
    assert key.target().latent.shape[1] == 4 and key.target().positions.shape[2] == 4


def test_keep_before_pins_tokens_by_time():
    base = TokenState.empty(torch.zeros(1, 10, 2), positions(10))  # token i spans [i/25, i/25 + 0.04)
    clean = torch.randn(1, 10, 2)
    state = keep_before(base, clean, seconds=0.12)
    # tokens ending at or before 0.12 s (i = 0, 1, 2) stay; the rest regenerate
    assert state.mask[0, :, 0].tolist() == [0, 0, 0] + [1] * 7
    assert torch.equal(noised(state, torch.randn(1, 10, 2)).latent[:, :3], clean[:, :3])


def test_guidance_combination_by_hand():
    from ltx2.sampling.guidance import NO_GUIDANCE, Guidance

    c = torch.tensor([1.0, 3.0])
    neg, ptb, iso = torch.tensor([0.0, 1.0]), torch.tensor([1.0, 1.0]), torch.tensor([2.0, 3.0])
    g = Guidance(cfg=3.0, stg=1.0, stg_blocks=(0,), modality=2.0)
    # c + 2(c - neg) + 1(c - ptb) + 1(c - iso) = [1+2+0-1, 3+4+2+0]
    assert g.combine(c, neg, ptb, iso).tolist() == [2.0, 9.0]
    r = Guidance(cfg=2.0, rescale=1.0).combine(c, neg)  # [2, 5] rescaled to c's std exactly
    assert torch.allclose(r.std(), c.std()) and torch.allclose(r, torch.tensor([2.0, 5.0]) * (c.std() / torch.tensor([2.0, 5.0]).std()))
    assert NO_GUIDANCE.combine(c) is c
