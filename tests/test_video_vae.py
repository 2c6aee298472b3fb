"""Video VAE, its tiling and the latent upsamplers: full-size key sets, tiling equivalence, the frames API,
loader strictness and the (unreleased) timestep-conditioned decoder. Parity with the reference lives in
tests/parity_video_vae_*.py and tests/parity_latent_upsample.py."""

import json

import pytest
import torch
from reference import Case, cases, checkpoint_entry, manifest, path
from safetensors.torch import save_file

from ltx2.loading.build import CheckpointMismatch, build_on_meta
from ltx2.loading.checkpoint import CheckpointFile
from ltx2.loading.upsampler import load_latent_upsampler
from ltx2.loading.video_vae import (
    LEGACY_STATISTICS,
    load_video_decoder,
    load_video_encoder,
)
from ltx2.model.upsampler import LatentUpsampler, UpsamplerConfig
from ltx2.model.vae_tiling import (
    AxisTiling,
    VideoTiling,
    decode_frames,
    encode_frames,
    split_axis,
    tiled_decode,
    tiled_encode,
)
from ltx2.model.video_vae import (
    VideoDecoder,
    VideoEncoder,
    VideoVAEConfig,
    frames_to_pixels,
    pixels_to_frames,
    unpatchify,
)


def tiny(arch: str) -> CheckpointFile:
    return CheckpointFile(path(checkpoint_entry(arch)["file"]))


def case(case_id: str) -> Case:
    return Case(next(e for e in cases() if e["case"] == case_id))


def shapes(module) -> dict[str, list[int]]:
    return {k: list(v.shape) for k, v in module.state_dict().items()}


# ------------------------------------------------------------------------------------------------ manifests


@pytest.mark.parametrize("name", ["ltx-2-19b.json", "ltx-2.3-22b.json", "ltx-2.5-video-vae-conv.json"])
def test_full_size_video_vae_keys_and_shapes(name):
    m = manifest(name)
    cfg = VideoVAEConfig.from_checkpoint_config(m["config"])
    ours = {}
    for half, cls in (("encoder", VideoEncoder), ("decoder", VideoDecoder)):
        for key, shape in shapes(build_on_meta(lambda: cls(cfg))).items():
            file_key = "vae." + key if key.startswith("per_channel_statistics.") else f"vae.{half}.{key}"
            assert ours.setdefault(file_key, shape) == shape
    theirs = {k: v["shape"] for k, v in m["tensors"].items() if k.startswith("vae.")}
    legacy = set(theirs) - set(ours)
    assert legacy == (set(LEGACY_STATISTICS) if name == "ltx-2-19b.json" else set())
    assert ours == {k: v for k, v in theirs.items() if k not in legacy}
    assert cfg.scale_factors() == (8, 32, 32)


UPSAMPLERS = [
    "ltx-2-spatial-upscaler-x2-1.0.json",
    "ltx-2.3-spatial-upscaler-x2-1.1.json",
    "ltx-2.3-spatial-upscaler-x1.5-1.0.json",
    "ltx-2-temporal-upscaler-x2-1.0.json",
    "ltx-2.3-temporal-upscaler-x2-1.0.json",
]


@pytest.mark.parametrize("name", UPSAMPLERS)
def test_full_size_upsampler_keys_and_shapes(name):
    m = manifest(name)
    module = build_on_meta(lambda: LatentUpsampler(UpsamplerConfig.from_checkpoint_config(m["config"])))
    assert shapes(module) == {k: v["shape"] for k, v in m["tensors"].items()}


# ------------------------------------------------------------------------------------------------ upsamplers


def test_upsampler_output_shapes_x15_x2_temporal():
    torch.manual_seed(0)
    base = {"in_channels": 8, "mid_channels": 32, "num_blocks_per_stage": 1, "dims": 3}
    latent = torch.randn(1, 8, 3, 4, 6)
    expected = {
        (True, False, 1.5, True): [1, 8, 3, 6, 9],
        (True, False, 2.0, False): [1, 8, 3, 8, 12],
        (False, True, 2.0, False): [1, 8, 5, 4, 6],
    }
    for (spatial, temporal, scale, rational), shape in expected.items():
        cfg = UpsamplerConfig.from_checkpoint_config(
            {**base, "spatial_upsample": spatial, "temporal_upsample": temporal, "spatial_scale": scale, "rational_resampler": rational}
        )
        module = LatentUpsampler(cfg)
        if rational:
            k = torch.tensor([1.0, 4, 6, 4, 1])
            module.upsampler.blur_down.kernel.copy_((k[:, None] * k[None]) / 256)
        with torch.no_grad():
            assert list(module(latent).shape) == shape


def test_rational_x2_is_the_plain_x2_with_renamed_conv():
    """The rational x2 layout's blur has stride 1, so it must equal the plain layout with ``upsampler.conv.*``
    stored as ``upsampler.0.*``; a wrong pixel-shuffle order or an applied blur would break this."""
    rational = load_latent_upsampler(tiny_upsampler("ltx2_spatial_x2"), dtype=torch.float32)
    state = {k.replace("upsampler.conv.", "upsampler.0."): v for k, v in rational.state_dict().items() if "blur_down" not in k}
    plain = LatentUpsampler(UpsamplerConfig.from_checkpoint_config({**rational.cfg.__dict__, "rational_resampler": False}))
    plain.load_state_dict(state, strict=True)
    latent = torch.randn(1, 8, 2, 3, 4, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        torch.testing.assert_close(plain(latent), rational(latent), rtol=0, atol=0)


def tiny_upsampler(name: str) -> CheckpointFile:
    return CheckpointFile(path(checkpoint_entry(name)["file"]))


def test_upsampler_config_rejects_unknown_scale():
    with pytest.raises(ValueError, match="rational scale 3.0"):
        UpsamplerConfig.from_checkpoint_config({"spatial_scale": 3.0, "rational_resampler": True})


# ------------------------------------------------------------------------------------------------ loaders


def _rewrite(src: CheckpointFile, dst, extra: dict[str, torch.Tensor]):
    tensors = {**src.tensors("vae.", strip=False), **extra}
    save_file(tensors, str(dst), metadata={"config": json.dumps(src.config)})
    return CheckpointFile(dst)


def test_loader_drops_exactly_the_legacy_statistics_and_rejects_other_keys(tmp_path):
    src = tiny("ltx2")
    assert LEGACY_STATISTICS <= set(src.keys("vae."))
    encoder = load_video_encoder(src, dtype=torch.float32)  # the legacy keys are present and dropped
    assert set(encoder.per_channel_statistics.state_dict()) == {"mean-of-means", "std-of-means"}
    stray = _rewrite(src, tmp_path / "stray.safetensors", {"vae.per_channel_statistics.spare": torch.zeros(8)})
    with pytest.raises(CheckpointMismatch, match="vae.per_channel_statistics.spare"):
        load_video_decoder(stray)


def test_statistics_are_the_same_in_encoder_and_decoder():
    f = tiny("ltx23")
    enc, dec = load_video_encoder(f, dtype=torch.float32), load_video_decoder(f, dtype=torch.float32)
    for name in ("mean-of-means", "std-of-means"):
        stored = f.tensors("vae.per_channel_statistics." + name, strip=False, dtype=torch.float32)["vae.per_channel_statistics." + name]
        assert torch.equal(enc.per_channel_statistics.get_buffer(name), stored)
        assert torch.equal(dec.per_channel_statistics.get_buffer(name), stored)


def test_padding_modes_follow_the_config():
    assert VideoVAEConfig.from_checkpoint_config(tiny("ltx2").config).encoder_padding == "zeros"
    assert load_video_decoder(tiny("ltx2")).conv_in.conv.padding_mode == "reflect"
    assert load_video_decoder(tiny("ltx23")).conv_in.conv.padding_mode == "zeros"


# ------------------------------------------------------------------------------------------------ tiling


def pointwise(module: torch.nn.Module, time_tap: int) -> torch.nn.Module:
    """Keep only one tap of every 3x3x3 kernel: the spatial centre and, in time, the tap that reads the
    output's own frame (1 for the decoder's symmetric padding, 2 for the encoder's causal padding)."""
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, torch.nn.Conv3d):
                keep = torch.zeros_like(m.weight)
                keep[:, :, time_tap, 1, 1] = 1
                m.weight.mul_(keep)
    return module


@pytest.mark.parametrize("arch", ["ltx2", "ltx23"])
def test_tiled_decode_equals_untiled_when_the_receptive_field_fits(arch):
    """Tiled == untiled, tolerance rel_l2 1e-5 (float32 rounding of the blend: weights sum to 1 exactly).

    With trained weights tiling is near-lossless; with the random tiny weights it is not (every conv sees
    3x3x3 neighbours, so a tile edge changes values up to ~7 latents inside, and the ramps run over the
    whole overlap; the reference measures max|diff| ~ 1). To test the tiling itself we shrink every kernel
    of the real tiny decoder to a single tap, a decoder whose receptive field (0) fits in any overlap: each
    tile then decodes exactly the untiled values at the positions it covers, so any error in the latent
    split, the causal one-frame shift, the latent->pixel frame mapping, the ramps or the normalisation shows
    up as a mismatch. The clip spans several tiles in time, height and width.
    """
    decoder = pointwise(load_video_decoder(tiny(arch), dtype=torch.float32), time_tap=1)
    latent = torch.randn(1, 8, 5, 4, 5, generator=torch.Generator().manual_seed(3))
    tiling = VideoTiling(AxisTiling(16, 8), AxisTiling(64, 32), AxisTiling(96, 32))
    seen = []
    hook = decoder.register_forward_pre_hook(lambda _, args: seen.append(tuple(args[0].shape[2:])))
    chunks = list(tiled_decode(decoder, latent, tiling))
    hook.remove()
    with torch.no_grad():
        whole = decoder(latent)
    assert [c.shape[2] for c in chunks] == [8, 8, 17]  # streamed: frames final once no later tile covers them
    tiled = torch.cat(chunks, dim=2)
    assert tiled.shape == whole.shape == (1, 3, 33, 128, 160)
    assert torch.linalg.vector_norm(tiled - whole) / torch.linalg.vector_norm(whole) < 1e-5
    assert len(seen) == 4 * 3 * 2 and max(seen) <= (3, 2, 3)  # memory bounded by the tile


@pytest.mark.parametrize("arch", ["ltx2", "ltx23"])
def test_tiled_encode_equals_untiled_when_the_receptive_field_fits(arch):
    """Same argument as for decode (single-tap encoder, tolerance rel_l2 1e-5): the first latent of every
    later temporal tile sees only one pixel frame and must get weight 0; a wrong pixel cut or weight fails."""
    encoder = pointwise(load_video_encoder(tiny(arch), dtype=torch.float32), time_tap=2)
    pixels = torch.rand(1, 3, 41, 128, 160, generator=torch.Generator().manual_seed(4)) * 2 - 1
    tiling = VideoTiling(AxisTiling(24, 16), AxisTiling(96, 64), AxisTiling(96, 64))
    with torch.no_grad():
        whole = encoder(pixels)
    tiled = tiled_encode(encoder, pixels, tiling)
    assert tiled.shape == whole.shape == (1, 8, 6, 4, 5)
    assert torch.linalg.vector_norm(tiled - whole) / torch.linalg.vector_norm(whole) < 1e-5


def test_causal_temporal_split_and_validation():
    assert [(s.start, s.end, s.left, s.right) for s in split_axis(5, (2, 1), causal=True)] == [(0, 2, 0, 1), (0, 3, 2, 1), (1, 4, 2, 1), (2, 5, 2, 0)]
    assert [(s.start, s.end, s.left, s.right) for s in split_axis(7, (4, 2))] == [(0, 4, 0, 2), (2, 6, 2, 2), (4, 7, 2, 0)]
    assert [(s.start, s.end) for s in split_axis(3, (4, 2), causal=True)] == [(0, 3)]
    with pytest.raises(ValueError, match="multiple of 32"):
        AxisTiling(100, 32).latent(32, "height")
    with pytest.raises(ValueError, match="overlap 8 is below the required 16"):
        tiled_encode(load_video_encoder(tiny("ltx23")), torch.zeros(1, 3, 17, 64, 64), VideoTiling(frames=AxisTiling(16, 8)))


# ------------------------------------------------------------------------------------------------ frames API


def test_frames_api_round_trip_shapes():
    f = tiny("ltx23")
    encoder, decoder = load_video_encoder(f, dtype=torch.float32), load_video_decoder(f, dtype=torch.float32)
    frames = torch.rand(17, 64, 96, 3, generator=torch.Generator().manual_seed(5))
    latent = encode_frames(encoder, frames)
    assert latent.shape == (1, 8, 3, 2, 3)
    (out,) = list(decode_frames(decoder, latent))
    assert out.shape == frames.shape and out.dtype == torch.float32 and 0 <= out.min() and out.max() <= 1
    longer = torch.randn(1, 8, 5, 2, 3, generator=torch.Generator().manual_seed(8))
    pieces = list(decode_frames(decoder, longer, VideoTiling(frames=AxisTiling(16, 8))))
    assert [p.shape for p in pieces] == [(8, 64, 96, 3), (8, 64, 96, 3), (17, 64, 96, 3)]  # 33 frames, streamed
    assert torch.equal(pixels_to_frames(frames_to_pixels(frames)), frames)
    with pytest.raises(ValueError, match="8k\\+1 frames"):
        encode_frames(encoder, frames[:16])
    with pytest.raises(ValueError, match="multiples of 32x32"):
        encode_frames(encoder, frames[:, :48])


@pytest.mark.parametrize("arch", ["ltx2", "ltx23"])
def test_frames_api_matches_the_reference_at_the_boundary(arch):
    """Frames in 0..1 are pixels (v+1)/2 in [F, H, W, 3]: the reference cases, converted, give their results."""
    f = tiny(arch)
    enc = case(f"{arch}/video_vae_encode")
    frames = ((enc.inputs["video"][0] + 1) / 2).permute(1, 2, 3, 0)
    enc.check("latent", encode_frames(load_video_encoder(f, dtype=torch.float32), frames))
    dec = case(f"{arch}/video_vae_decode")
    (out,) = list(decode_frames(load_video_decoder(f, dtype=torch.float32), dec.inputs["latent"]))
    expected = ((dec.expected["video"][0] + 1) / 2).clamp(0, 1).permute(1, 2, 3, 0)
    torch.testing.assert_close(out, expected, rtol=0, atol=1e-6)


# ------------------------------------------------------------------------------------------------ timestep conditioning


def conditioned_decoder(tiny_config: dict) -> tuple[VideoDecoder, VideoDecoder]:
    """The tiny 2.3 decoder with ``timestep_conditioning`` on (extra tensors zero) and the plain one."""
    plain = load_video_decoder(tiny("ltx23"), dtype=torch.float32)
    cfg = VideoVAEConfig.from_checkpoint_config({**tiny_config["vae"], "timestep_conditioning": True})
    cond = VideoDecoder(cfg)
    extra = {k: torch.zeros_like(v) for k, v in cond.state_dict().items() if k not in plain.state_dict()}
    extra["timestep_scale_multiplier"] = torch.tensor(1000.0)
    cond.load_state_dict({**plain.state_dict(), **extra}, strict=True)
    return cond.eval(), plain


def test_timestep_conditioned_decoder_keys():
    cond, plain = conditioned_decoder(tiny("ltx23").config)
    extra = {k: list(v.shape) for k, v in cond.state_dict().items() if k not in plain.state_dict()}
    res_stages = [i for i, b in enumerate(plain.up_blocks) if type(b).__name__ == "ResStage"]
    expected = {"timestep_scale_multiplier": [], "last_scale_shift_table": [2, 4]}
    expected |= {"last_time_embedder.timestep_embedder.linear_1.weight": [8, 256], "last_time_embedder.timestep_embedder.linear_2.weight": [8, 8]}
    for i in res_stages:
        c = plain.up_blocks[i].res_blocks[0].conv1.conv.in_channels
        expected[f"up_blocks.{i}.time_embedder.timestep_embedder.linear_1.weight"] = [4 * c, 256]
        expected[f"up_blocks.{i}.time_embedder.timestep_embedder.linear_2.weight"] = [4 * c, 4 * c]
        expected[f"up_blocks.{i}.res_blocks.0.scale_shift_table"] = [4, c]
    assert {k: v for k, v in extra.items() if not k.endswith(".bias")} == expected


def test_timestep_conditioned_decoder_noise_and_modulation():
    """Zero modulation: the decoder equals the plain one on 0.975 z + 0.025 n (n from the generator).
    A final scale of -1 (second row of ``last_scale_shift_table``) zeroes the features, leaving conv_out's bias."""
    cond, plain = conditioned_decoder(tiny("ltx23").config)
    z = torch.randn(1, 8, 2, 2, 2, generator=torch.Generator().manual_seed(6))
    with torch.no_grad():
        out = cond(z, generator=torch.Generator().manual_seed(7))
        noise = torch.randn(z.shape, generator=torch.Generator().manual_seed(7))
        torch.testing.assert_close(out, plain(0.975 * z + 0.025 * noise), rtol=1e-5, atol=1e-6)
        cond.last_scale_shift_table[1] = -1
        flat = cond(z, generator=torch.Generator().manual_seed(7))
    bias = cond.conv_out.conv.bias.view(1, 48, 1, 1, 1).expand(1, 48, 9, 16, 16)
    torch.testing.assert_close(flat, unpatchify(bias, 4), rtol=0, atol=1e-6)
