"""Working-memory estimates (ltx2.memory.activations) against peaks measured on the engine's own modules
(ltx2.memory.measure): real forwards of the tiny checkpoints' modules on the CPU, full-width modules on fake
tensors, and the full-size figures of the research brief (shared/research/memory_on_real_gpus.md). Then the
budget-driven tiling and RenderSettings' automatic tiling."""

import copy
from collections import deque

import pytest
import torch
from reference import manifest, path
from text_fixtures import tiny_gemma_state, tiny_text_config

from ltx2.errors import InputError
from ltx2.loading.checkpoint import CheckpointFile
from ltx2.loading.gemma import GEMMA3_12B_TEXT_CONFIG, build_gemma_text_model
from ltx2.loading.transformer import load_transformer
from ltx2.loading.video_vae import load_video_decoder, load_video_encoder
from ltx2.memory import activations
from ltx2.memory.measure import LiveBytes, fake_tensors, peak_bytes
from ltx2.model.fp8_linear import quantize_linears
from ltx2.model.positions import audio_positions, video_positions
from ltx2.model.transformer import AudioVideoTransformer, ModalityInput
from ltx2.model.vae_tiling import AxisTiling, VideoTiling, decode_frames, encode_frames
from ltx2.model.video_vae import VideoDecoder, VideoVAEConfig
from ltx2.pipeline.settings import RenderSettings
from ltx2.text.gemma import GemmaEncoder

TOLERANCE = 0.2
"""How far an estimate may be from the measured peak (they agree within 3% on every case below)."""
GiB = 2**30
TINY = {"ltx2": "fixtures/checkpoints/tiny-ltx-2-19b.safetensors", "ltx23": "fixtures/checkpoints/tiny-ltx-2.3-22b.safetensors"}
FULL = {"ltx2": "ltx-2-19b.json", "ltx23": "ltx-2.3-22b.json"}


def assert_close(estimate: int, measured: int, tolerance: float = TOLERANCE) -> None:
    assert abs(estimate - measured) <= tolerance * measured, f"estimate {estimate} vs measured {measured} ({estimate / measured:.3f})"


def tiny(arch: str) -> CheckpointFile:
    return CheckpointFile(path(TINY[arch]))


# ------------------------------------------------------------------------------------------------ measuring


def test_live_bytes_counts_each_new_storage_once_and_nothing_made_before():
    weight = torch.ones(64, 64)

    def work():
        a = torch.ones(256)  # 1 KiB
        b = a * 2  # 2 KiB live
        del a  # 1 KiB
        b.view(16, 16).add_(1)  # a view, in place: nothing new
        t = weight.t()  # a view of a tensor made before: not counted
        d = torch.cat([b, b])  # 2 KiB more: 3 KiB live
        return t, d

    assert peak_bytes(work) == 3 * 1024
    tracker = LiveBytes()
    with tracker:
        kept = torch.zeros(100)
    assert tracker.current == 400
    del kept
    assert tracker.current == 0


def test_fake_tensors_answer_unique_as_one_level():
    with fake_tensors():
        timesteps = torch.full((2, 1000), 0.5)
        with LiveBytes() as tracker:
            levels, inverse = torch.unique(timesteps, return_inverse=True)
    assert levels.shape == (1,) and inverse.shape == (2, 1000) and tracker.peak >= 2000 * 8


# ------------------------------------------------------------------------------------------------ DiT


def dit_inputs(model: AudioVideoTransformer, frames: int, height: int, width: int, text: int, dtype) -> tuple[ModalityInput, ModalityInput]:
    c = model.cfg
    f, h, w = (frames - 1) // 8 + 1, height // 32, width // 32
    steps = frames * 25 // 24 + 1

    def stream(tokens: int, channels: int, positions, context_width: int) -> ModalityInput:
        sigma = torch.full((1,), 0.5)
        return ModalityInput(
            torch.randn(1, tokens, channels, dtype=dtype), sigma.expand(1, tokens), sigma, positions, torch.randn(1, text, context_width, dtype=dtype)
        )

    widths = (c.caption_channels, c.caption_channels) if c.caption_projection else (c.dim, c.audio_dim)
    video = stream(f * h * w, c.in_channels, video_positions(f, h, w, 24.0), widths[0])
    audio = stream(steps, c.audio_in_channels, audio_positions(steps), widths[1])
    return video, audio


def dit_estimate(config: dict, video: ModalityInput, audio: ModalityInput, dtype_bytes: int, **kw) -> int:
    return activations.dit_forward_peak(
        config["transformer"], video.latent.shape[1], audio.latent.shape[1], video.context.shape[1], 1, dtype_bytes, **kw
    )


@pytest.fixture(scope="module", params=sorted(TINY))
def tiny_dit(request):
    ckpt = tiny(request.param)
    return ckpt.config, load_transformer(ckpt, dtype=torch.float32)


@pytest.mark.parametrize("geometry", [(17, 128, 128, 64), (49, 256, 256, 128), (25, 192, 320, 16)], ids=str)
def test_dit_forward_estimate_matches_a_real_forward(tiny_dit, geometry):
    config, model = tiny_dit
    video, audio = dit_inputs(model, *geometry, torch.float32)
    with torch.inference_mode():
        measured = peak_bytes(lambda: model(video, audio))
    assert_close(dit_estimate(config, video, audio, 4), measured)


@pytest.mark.parametrize("arch", sorted(FULL))
@pytest.mark.parametrize("geometry, fp8", [((121, 512, 768, 1024), False), ((9, 64, 64, 1024), False), ((121, 512, 768, 1024), True)], ids=str)
def test_dit_forward_estimate_at_full_width(arch, geometry, fp8):
    """Full-width blocks (two of them: every block holds the same) on fake tensors in bf16, with fp8 block
    Linears rebuilding their weights when asked; short clips peak in the text cross-attention instead."""
    config = copy.deepcopy(manifest(FULL[arch])["config"])
    config["transformer"]["num_layers"] = 2
    with fake_tensors():
        torch.set_default_dtype(torch.bfloat16)
        try:
            model = AudioVideoTransformer.from_config(config)
        finally:
            torch.set_default_dtype(torch.float32)
        if fp8:
            quantize_linears(model, "transformer_blocks")
        video, audio = dit_inputs(model, *geometry, torch.bfloat16)
        with torch.inference_mode():
            measured = peak_bytes(lambda: model(video, audio))
    assert_close(dit_estimate(config, video, audio, 2, fp8_weights=fp8), measured, 0.03)


# ------------------------------------------------------------------------------------------------ video VAE

TILES = VideoTiling(AxisTiling(16, 8), AxisTiling(64, 32), AxisTiling(96, 32))
ENCODE_TILES = VideoTiling(AxisTiling(24, 16), AxisTiling(96, 64), AxisTiling(96, 64))
CLIPS = [(33, 128, 160), (17, 256, 256), (57, 192, 96)]


def measure_decode(decoder, frames: int, height: int, width: int, tiling) -> int:
    latent = torch.randn(1, decoder.cfg.latent_channels, (frames - 1) // 8 + 1, height // 32, width // 32)
    return peak_bytes(lambda: deque(decode_frames(decoder, latent, tiling), maxlen=0))  # each piece dropped


@pytest.fixture(scope="module", params=sorted(TINY))
def tiny_vae(request):
    ckpt = tiny(request.param)
    return ckpt.config, load_video_decoder(ckpt, dtype=torch.float32), load_video_encoder(ckpt, dtype=torch.float32)


@pytest.mark.parametrize("tiling", [None, TILES], ids=["whole", "tiled"])
@pytest.mark.parametrize("clip", CLIPS, ids=str)
def test_vae_decode_estimate_matches_a_real_decode(tiny_vae, clip, tiling):
    config, decoder, _ = tiny_vae
    assert_close(activations.vae_decode_peak(config, *clip, tiling, 4), measure_decode(decoder, *clip, tiling))


@pytest.mark.parametrize("tiling", [None, ENCODE_TILES], ids=["whole", "tiled"])
@pytest.mark.parametrize("clip", CLIPS, ids=str)
def test_vae_encode_estimate_matches_a_real_encode(tiny_vae, clip, tiling):
    config, _, encoder = tiny_vae
    frames = torch.rand(clip[0], clip[1], clip[2], 3)
    assert_close(activations.vae_encode_peak(config, *clip, tiling, 4), peak_bytes(lambda: encode_frames(encoder, frames, tiling)))


@pytest.mark.parametrize("tiling", [None, VideoTiling.default()], ids=["whole", "default tiles"])
def test_vae_decode_estimate_of_the_full_size_decoder(tiling):
    """The 2.3 decoder at full width on fake tensors, 121 frames of 768 x 512 in bf16."""
    config = manifest(FULL["ltx23"])["config"]
    with fake_tensors():
        torch.set_default_dtype(torch.bfloat16)
        try:
            decoder = VideoDecoder(VideoVAEConfig.from_checkpoint_config(config)).eval()
        finally:
            torch.set_default_dtype(torch.float32)
        latent = torch.randn(1, 128, 16, 16, 24, dtype=torch.bfloat16)
        with torch.inference_mode():
            measured = peak_bytes(lambda: deque(decode_frames(decoder, latent, tiling), maxlen=0))
    assert_close(activations.vae_decode_peak(config, 121, 512, 768, tiling, 2), measured, 0.03)


def test_tiled_decode_needs_less_than_untiled_on_large_clips(tiny_vae):
    config, decoder, _ = tiny_vae
    for name in FULL.values():
        full = manifest(name)["config"]
        for clip in [(121, 1088, 1920), (257, 704, 1280)]:
            assert activations.vae_decode_peak(full, *clip, VideoTiling.default(), 2) < activations.vae_decode_peak(full, *clip, None, 2) / 2
    clip, tiling = (65, 256, 256), activations.standard_tiling(32, 0)
    estimates = [activations.vae_decode_peak(config, *clip, t, 4) for t in (tiling, None)]
    measured = [measure_decode(decoder, *clip, t) for t in (tiling, None)]
    assert estimates[0] < estimates[1] and measured[0] < measured[1]


# ------------------------------------------------------------------------------------------------ Gemma

SMALL_GEMMA = {
    "model_type": "gemma3_text", "vocab_size": 128, "hidden_size": 256, "intermediate_size": 1024, "num_hidden_layers": 6,
    "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 64, "query_pre_attn_scalar": 64, "sliding_window": 16,
    "layer_types": ["sliding_attention"] * 5 + ["full_attention"], "max_position_embeddings": 2048, "rms_norm_eps": 1e-6,
}  # fmt: skip


@pytest.fixture(scope="module")
def gemmas():
    from transformers import Gemma3TextConfig, Gemma3TextModel

    torch.manual_seed(0)
    small = Gemma3TextModel(Gemma3TextConfig(**SMALL_GEMMA, attn_implementation="sdpa")).eval()
    return {
        "tiny": (tiny_text_config(), build_gemma_text_model(tiny_text_config(), tiny_gemma_state(), dtype=torch.float32)),
        "small": (SMALL_GEMMA, small),
    }


@pytest.mark.parametrize("name", ["tiny", "small"])
@pytest.mark.parametrize("tokens", [16, 128, 512])
def test_text_encode_estimate_matches_a_real_gemma_forward(gemmas, name, tokens):
    config, model = gemmas[name]
    ids = torch.randint(5, 100, (1, tokens))
    mask = torch.ones(1, tokens, dtype=torch.long)
    mask[:, : tokens // 2] = 0  # left padding, as tokenize() pads
    measured = peak_bytes(lambda: GemmaEncoder(model, max_length=tokens).hidden_states(ids, mask))
    assert_close(activations.text_encode_peak(config, tokens, 4), measured)


# ------------------------------------------------------------------------------------------------ full size


BRIEF = [  # (phase, arch, args, GiB measured in the research brief)
    ("dit", "ltx2", (6144, 127, 1024), 0.98),
    ("dit", "ltx2", (14080, 127, 1024), 2.22),
    ("dit", "ltx2", (12672, 268, 1024), 2.0),
    ("decode", "ltx2", (121, 512, 768), 5.01),
    ("decode", "ltx23", (121, 512, 768), 4.27),
    ("decode", "ltx2", (121, 704, 1280), 11.46),
    ("decode", "ltx23", (121, 704, 1280), 9.78),
    ("decode", "ltx23", (121, 1088, 1920), 22.7),
    ("encode", "ltx2", (25, 512, 768), 0.95),
    ("text", None, (1024,), 0.72),
]


@pytest.mark.parametrize("phase, arch, args, gib", BRIEF, ids=lambda x: str(x))
def test_full_size_estimates_agree_with_the_research_brief(phase, arch, args, gib):
    config = manifest(FULL[arch])["config"] if arch else None
    estimate = {
        "dit": lambda: activations.dit_forward_peak(config["transformer"], *args, 1, 2),
        "decode": lambda: activations.vae_decode_peak(config, *args, None, 2),
        "encode": lambda: activations.vae_encode_peak(config, *args, None, 2),
        "text": lambda: activations.text_encode_peak(GEMMA3_12B_TEXT_CONFIG, *args, 2),
    }[phase]()
    assert abs(estimate / GiB - gib) <= 0.01 * gib + 0.005


# ------------------------------------------------------------------------------------------------ tiling


def test_tiling_for_budget():
    config = manifest(FULL["ltx2"])["config"]
    clip = (121, 1088, 1920)
    whole = activations.vae_decode_peak(config, *clip, None, 2)
    assert activations.tiling_for_budget(config, *clip, whole, 2) is None
    candidates = activations.tiling_candidates(*clip)
    assert candidates[0] == activations.standard_tiling(96, 0)  # whole frames first, the longest temporal tile
    for budget in (16 * GiB, 8 * GiB, 4 * GiB):
        tiling = activations.tiling_for_budget(config, *clip, budget, 2)
        assert tiling is not None and activations.vae_decode_peak(config, *clip, tiling, 2) <= budget
        earlier = candidates[: candidates.index(tiling)]
        assert all(activations.vae_decode_peak(config, *clip, t, 2) > budget for t in earlier)  # the largest that fits
    assert activations.tiling_for_budget(config, *clip, 1, 2) == candidates[-1]  # nothing fits: the smallest
    small = (25, 128, 192)  # under the smallest tiles on every axis: nothing to tile
    assert activations.tiling_candidates(*small) == []
    assert activations.tiling_for_budget(config, *small, 1, 2) is None


def test_budgeted_tiling_keeps_a_real_decode_within_the_budget(tiny_vae):
    config, decoder, _ = tiny_vae
    clip = (129, 128, 128)
    budget = measure_decode(decoder, *clip, None) // 2
    tiling = activations.tiling_for_budget(config, *clip, budget, 4)
    assert tiling is not None and measure_decode(decoder, *clip, tiling) <= budget * 1.01


def test_standard_tiling_overlaps():
    assert activations.standard_tiling(80, 768) == VideoTiling.default()
    assert activations.standard_tiling(32, 256) == VideoTiling(AxisTiling(32, 16), AxisTiling(256, 64), AxisTiling(256, 64))
    assert activations.standard_tiling(96, 1536) == VideoTiling(AxisTiling(96, 32), AxisTiling(1536, 128), AxisTiling(1536, 128))


def test_render_settings_tile_automatically_by_default():
    config = tiny("ltx2").config
    auto = RenderSettings(width=128, height=128)
    assert auto.tile == "auto" and auto.tiling_for(config, 129, None, 4) == VideoTiling.default()
    assert auto.tiling_for(config, 129, 100 * GiB, 4) is None
    small = auto.tiling_for(config, 129, 40 * 2**20, 4)
    assert small is not None and activations.vae_decode_peak(config, 129, 128, 128, small, 4) <= 40 * 2**20
    fixed = VideoTiling(AxisTiling(32, 8))
    assert RenderSettings(tile=fixed).tiling_for(config, 65, 1, 4) == fixed
    assert RenderSettings(tile=None).tiling_for(config, 65, 1, 4) is None
    prints = {RenderSettings(tile=t).fingerprint() for t in ("auto", None, fixed, VideoTiling.default())}
    assert len(prints) == 4
    with pytest.raises(InputError, match="tile"):
        RenderSettings(tile=VideoTiling(AxisTiling(12, 0)))
    with pytest.raises(InputError, match="tile"):
        RenderSettings(tile="whole")
