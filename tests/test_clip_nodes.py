"""Single-clip nodes on the demo model: text encode -> clip sampler -> decode video / audio -> save (streamed MP4),
standalone and inside ComfyUI (stand-in modules)."""

import sys
import types
from fractions import Fraction

import av
import pytest
import torch
from test_sampler_node import node
from test_workflows import decode_mp4

FAST = {"width": 64, "height": 64, "frames": 17, "fps": 24.0, "seed": 3, "steps": 3, "guidance": "off", "cfg": 0.0, "image_strength": 1.0}
"""A 17-frame 64 x 64 clip with 3 full-model steps, no guidance."""


def engine(pack, module):
    return sys.modules[pack.__name__ + ".ltx2." + module]


@pytest.fixture(scope="module")
def demo(pack):
    return node(pack, "DemoModel").execute(seed=0).args[0]


@pytest.fixture(scope="module")
def clip(pack, demo):
    """(video LATENT, audio LATENT) of one clip from a prompt."""
    return node(pack, "ClipSampler").execute(model=demo, prompt="a cat sat on the mat", **FAST).args


def sample(pack, model, **inputs):
    cls = node(pack, "ClipSampler")
    clone = type(cls.__name__, (cls,), {"hidden": sys.modules[pack.__name__ + ".nodes.host"].io.HiddenHolder(unique_id="7")})
    return clone.execute(model=model, **{"prompt": "", **FAST, **inputs}).args


def test_clip_latents_have_comfyui_ltx_layouts(pack, demo, clip):
    video, audio = clip
    models = demo.models
    assert set(video) == {"samples"} and audio["type"] == "audio"
    assert video["samples"].shape == (1, models.latent_channels, 3, 2, 2)  # 17 frames -> 3 latents, 64 px -> 2
    steps = engine(pack, "pipeline.renderer").audio_latents_for(17, Fraction(24))
    assert audio["samples"].shape == (1, models.audio.decoder.cfg.z_channels, steps, 16)
    assert torch.isfinite(video["samples"]).all() and torch.isfinite(audio["samples"]).all()


def test_text_encode_conditioning_is_used_without_encoding_again(pack, demo, clip, monkeypatch):
    encoder = engine(pack, "text.encoder").TextEncoder
    calls = []
    original = encoder.encode
    monkeypatch.setattr(encoder, "encode", lambda self, texts: calls.append(list(texts)) or original(self, texts))
    conditioning = node(pack, "TextEncode").execute(model=demo, prompt="a cat sat on the mat", negative_prompt="blur").args[0]
    assert calls == [["a cat sat on the mat"], ["blur"]]
    assert conditioning.positive.video.device.type == "cpu" and conditioning.negative is not None
    video, audio = sample(pack, demo, conditioning=conditioning, prompt="the widget, ignored when linked")
    assert len(calls) == 2  # the sampler took the encoded prompts
    # the same prompt and seed as the widget path: the same clip
    assert torch.equal(video["samples"], clip[0]["samples"]) and torch.equal(audio["samples"], clip[1]["samples"])
    other = node(pack, "DemoModel").execute(seed=1).args[0]
    with pytest.raises(ValueError, match="encoded by another model"):
        sample(pack, other, conditioning=conditioning)


def test_first_frame_image_is_pinned_and_seed_matters(pack, demo, clip):
    picture = torch.rand(1, 48, 80, 3)
    video, _ = sample(pack, demo, prompt="a cat sat on the mat", image=picture)
    fitted = engine(pack, "pipeline.images").fit_image(picture[0], 64, 64)
    expected = engine(pack, "model.vae_tiling").encode_frames(demo.models.video_encoder, fitted[None])
    assert torch.allclose(video["samples"][:, :, :1], expected.float(), atol=1e-5)
    assert not torch.allclose(video["samples"][:, :, 1:], clip[0]["samples"][:, :, 1:])
    reseeded, _ = sample(pack, demo, prompt="a cat sat on the mat", seed=4)
    assert not torch.allclose(reseeded["samples"], clip[0]["samples"])


def test_bad_frame_count_names_the_field(pack, demo):
    with pytest.raises(ValueError, match="frames: 20 is not 8k\\+1"):
        sample(pack, demo, frames=20)


def test_decode_video_tiled_streams_every_frame_of_every_batch_item(pack, demo, clip):
    latent = clip[0]["samples"]
    batch = {"samples": torch.cat([latent, latent.flip(2)])}
    decode = node(pack, "DecodeVideo")
    whole = decode.execute(model=demo, video_latent=batch, tile_size=0, temporal_tile=0).args[0]
    assert whole.shape == (34, 64, 64, 3) and whole.dtype == torch.float32 and 0 <= whole.min() <= whole.max() <= 1
    decoder = demo.models.video_decoder
    direct = next(engine(pack, "model.vae_tiling").decode_frames(decoder, latent.flip(2)))
    assert torch.allclose(whole[17:], direct, atol=1e-6)
    tiled = decode.execute(model=demo, video_latent=batch, tile_size=64, temporal_tile=16, tile_overlap=0, temporal_overlap=8).args[0]
    assert tiled.shape == whole.shape and 0 <= tiled.min() <= tiled.max() <= 1
    with pytest.raises(ValueError, match="tiling frames"):
        decode.execute(model=demo, video_latent=batch, tile_size=0, temporal_tile=12)
    with pytest.raises(ValueError, match="channels"):
        decode.execute(model=demo, video_latent={"samples": latent[:, :4]}, tile_size=0, temporal_tile=0)


def test_decode_audio_covers_the_clip(pack, demo, clip):
    audio = node(pack, "DecodeAudio").execute(model=demo, audio_latent=clip[1]).args[0]
    waveform, rate = audio["waveform"], audio["sample_rate"]
    assert rate == demo.models.audio.sample_rate and waveform.shape[:2] == (1, 2)
    assert 17 / 24 * rate <= waveform.shape[-1] <= 17 / 24 * rate + 4 * rate / 25 and torch.isfinite(waveform).all()
    with pytest.raises(ValueError, match="4-D samples"):
        node(pack, "DecodeAudio").execute(model=demo, audio_latent=clip[0])


def audio_seconds(path) -> float:
    with av.open(str(path)) as container:
        return sum(f.samples for f in container.decode(audio=0)) / container.streams.audio[0].sample_rate


def test_save_video_streams_slices_into_one_mp4(pack, tiny_models, monkeypatch):
    media = sys.modules[pack.__name__ + ".nodes.media_nodes"]
    prepared = []
    writer = media.Mp4Writer
    original = writer.prepare
    monkeypatch.setattr(writer, "prepare", lambda self, frames, audio: prepared.append((len(frames), None if audio is None else audio.shape[-1])) or original(self, frames, audio))
    frames = torch.rand(41, 64, 96, 3)
    sound = {"waveform": torch.rand(1, 2, 48000) * 0.2 - 0.1, "sample_rate": 24000}  # 2 s, longer than the video
    video = node(pack, "SaveVideo").execute(images=frames, audio=sound, fps=24.0, filename_prefix="clips/cat", crf=23).args[0]
    assert video == tiny_models / "clips/cat_00001_.mp4"
    assert [n for n, _ in prepared] == [16, 16, 9]  # a slice at a time, never the whole batch
    assert sum(s for _, s in prepared) == 41 * 1000  # the audio cut to the video's 41 frames
    assert decode_mp4(video) == (41, 24, True)
    assert abs(audio_seconds(video) - 41 / 24) < 0.05
    assert sorted(p.name for p in video.parent.iterdir()) == ["cat_00001_.mp4"]  # no temporary file left
    silent = node(pack, "SaveVideo").execute(images=frames[:9], fps=25.0, filename_prefix="clips/cat").args[0]
    assert silent.name == "cat_00002_.mp4" and decode_mp4(silent) == (9, 25, False)


def test_save_video_failure_leaves_no_file(pack, tiny_models):
    with pytest.raises(ValueError, match="even width and height, got 64x63"):
        node(pack, "SaveVideo").execute(images=torch.rand(5, 63, 64, 3), fps=24.0, filename_prefix="bad/odd")
    with pytest.raises(RuntimeError, match="mono or stereo"):  # found by the encoder thread, mid-file
        node(pack, "SaveVideo").execute(images=torch.rand(20, 64, 64, 3), audio={"waveform": torch.zeros(1, 3, 24000), "sample_rate": 24000}, fps=24.0, filename_prefix="bad/channels")
    assert list((tiny_models / "bad").iterdir()) == []


def test_single_clip_inside_comfyui(pack, demo, tiny_models, inside_comfyui, comfy, monkeypatch):
    latest = types.ModuleType("comfy_api.latest")
    latest.InputImpl = types.SimpleNamespace(VideoFromFile=lambda path: ("VIDEO", path))
    monkeypatch.setitem(sys.modules, "comfy_api", types.ModuleType("comfy_api"))
    monkeypatch.setitem(sys.modules, "comfy_api.latest", latest)
    video, audio = sample(pack, demo, prompt="a cat")
    ((bar,),) = [comfy.bars]
    assert bar.total == 3 and bar.values == [1, 2, 3] and bar.node_id == "7"  # the node's progress bar, per step
    events = [d for e, d, _ in comfy.sent if e == "ltx2chain.progress"]
    assert events[0]["event"] == "chain_start" and events[-1]["event"] == "done" and {d["node"] for d in events} == {"7"}
    images = node(pack, "DecodeVideo").execute(model=demo, video_latent=video, tile_size=768, temporal_tile=80).args[0]
    sound = node(pack, "DecodeAudio").execute(model=demo, audio_latent=audio).args[0]
    saver = node(pack, "SaveVideo")
    clone = type(saver.__name__, (saver,), {"hidden": sys.modules[pack.__name__ + ".nodes.host"].io.HiddenHolder(unique_id="9")})
    out = clone.execute(images=images, audio=sound, fps=24.0, filename_prefix="lt/clip")
    assert out.args[0] == ("VIDEO", str(comfy.output / "lt/clip_00001_.mp4"))
    assert out.ui == {"images": [{"filename": "clip_00001_.mp4", "subfolder": "lt", "type": "output"}], "animated": [True]}
    assert decode_mp4(comfy.output / "lt/clip_00001_.mp4") == (17, 24, True)
    comfy.interrupt = True
    with pytest.raises(comfy.Interrupted):
        clone.execute(images=images, audio=sound, fps=24.0, filename_prefix="lt/cancelled")
    assert not any((comfy.output / "lt").glob("cancelled*"))
