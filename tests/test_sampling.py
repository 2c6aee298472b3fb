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
from ltx2.sampling.euler import Ancestral, sample, seeded_step_noise
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


def constant_velocity(value):
    def model(video, audio, sigma):
        return torch.full_like(video.latent, value), torch.full_like(audio.latent, value)

    return model


def fixed_noise(value):
    return lambda step, modality, latent: torch.full_like(latent, value)


def test_one_ancestral_step_by_hand():
    # sigma 1 -> 0.5, eta 1: sigma_down = 0.5 * (1 + (0.5 / 1 - 1)) = 0.25, alpha' = 0.5, alpha_down = 0.75;
    # x = 1 with velocity 1 gives x0 = 0, the Euler step to 0.25 gives 0.25, scaled by alpha'/alpha_down = 2/3;
    # re-noise sqrt(0.5^2 - (0.25 * 2/3)^2) = sqrt(2) / 3, so noise 3 adds sqrt(2)
    state = TokenState.empty(torch.ones(1, 1, 1), positions(1))
    sigmas = torch.tensor([1.0, 0.5])
    for noise, expected in ((0.0, 1 / 6), (3.0, 1 / 6 + 2**0.5)):
        video, _ = sample(constant_velocity(1.0), state, state, sigmas, ancestral=Ancestral(fixed_noise(noise)))
        assert abs(video.latent.item() - expected) < 1e-6
    # s_noise scales the noise; eta 0.5: sigma_down = 0.5 * (1 - 0.25) = 0.375, scale 0.5 / 0.625 = 0.8,
    # re-noise sqrt(0.25 - 0.3^2) = 0.4
    half = Ancestral(fixed_noise(1.0), eta=0.5, s_noise=2.0)
    video, _ = sample(constant_velocity(1.0), state, state, sigmas, ancestral=half)
    assert abs(video.latent.item() - (0.375 * 0.8 + 2 * 0.4)) < 1e-6


def test_ancestral_eta_zero_is_the_euler_step():
    torch.manual_seed(0)
    state = noised(replace_tokens(TokenState.empty(torch.zeros(1, 6, 4), positions(6)), 0, torch.randn(1, 2, 4), 1.0), torch.randn(1, 6, 4))

    def model(video, audio, sigma):
        g = torch.Generator().manual_seed(int(sigma * 1000))  # the same velocities for both samplers
        return torch.randn(video.latent.shape, generator=g), torch.randn(audio.latent.shape, generator=g)

    sigmas = torch.tensor([1.0, 0.9, 0.6, 0.3])  # no step to 0: that one returns x0 instead
    euler, _ = sample(model, state, state, sigmas)
    ancestral, _ = sample(model, state, state, sigmas, ancestral=Ancestral(fixed_noise(5.0), eta=0.0))
    assert torch.equal(ancestral.latent, euler.latent)


def test_ancestral_reapplies_the_mask_and_ends_on_x0():
    clean = torch.full((1, 2, 1), 4.0)
    state = replace_tokens(TokenState.empty(torch.zeros(1, 2, 1), positions(2)), 0, clean[:, :1], strength=0.75)
    state = noised(state, torch.ones(1, 2, 1))  # token 0: lerp(4, 1, 0.25) = 3.25; token 1: 1
    records = {}
    video, _ = sample(constant_velocity(0.0), state, state, torch.tensor([1.0, 0.5, 0.0]), record=records.__setitem__, ancestral=Ancestral(fixed_noise(0.0)))
    # step 0, token 0: x0 = 3.25, blended 3.25 * 0.25 + 4 * 0.75 = 3.8125; x = (0.25 * 3.25 + 0.75 * 3.8125) * 2/3
    # = 2.4479..., then blended again: 2.4479 * 0.25 + 4 * 0.75
    step0 = (0.25 * 3.25 + 0.75 * 3.8125) * 2 / 3 * 0.25 + 3.0
    assert abs(records["video_latent_step0"][0, 0, 0].item() - step0) < 1e-5
    # the step to 0 returns the blended x0 as it is
    assert torch.equal(video.latent, records["video_x0_blended_step1"])


def test_seeded_step_noise_draws_video_then_audio_from_the_offset_seed():
    draw = seeded_step_noise(7)
    video, audio = torch.zeros(1, 3, 2), torch.zeros(1, 5, 4)
    g = torch.Generator().manual_seed(7 + 10000)
    assert torch.equal(draw(0, "video", video), torch.randn(1, 3, 2, generator=g))
    assert torch.equal(draw(0, "audio", audio), torch.randn(1, 5, 4, generator=g))


def test_first_frame_marker_covers_frame_zero_only_and_not_appended_tokens():
    state = TokenState.empty(torch.zeros(2, 6, 3), positions(6).expand(2, -1, -1, -1), first_frame_tokens=2)
    assert state.keyframes.tolist() == [[1, 1, 0, 0, 0, 0]] * 2
    state = replace_tokens(state, 0, torch.ones(2, 4, 3), strength=1.0)  # conditioning in place keeps the marker
    keyed = append_tokens(state, torch.ones(2, 2, 3), positions(2).expand(2, -1, -1, -1) + 10, strength=1.0)
    assert keyed.keyframes.tolist() == [[1, 1, 0, 0, 0, 0, 0, 0]] * 2
    assert torch.equal(keyed.target().keyframes, state.keyframes)
    assert TokenState.empty(torch.zeros(1, 4, 2), positions(4)).keyframes.sum() == 0
