"""LTX-2.5's split files: each loader takes the file of its component, and given another one (or a file without the
component's tensors) fails with one message naming the file and the file to pass, never a KeyError."""

import json

import pytest
import torch
from reference import checkpoint_entry, path
from safetensors.torch import save_file

from ltx2.audio.codec import AudioCodec
from ltx2.loading.audio import load_audio_decoder, load_audio_encoder, load_vocoder
from ltx2.loading.checkpoint import CheckpointFile, MissingComponent
from ltx2.loading.transformer import load_text_connectors, load_transformer
from ltx2.loading.video_vae import load_video_decoder, load_video_encoder


def split(component: str) -> CheckpointFile:
    return CheckpointFile(path(checkpoint_entry(f"ltx25_{component}")["file"]))


def test_each_split_file_loads_its_own_components():
    transformer = load_transformer(split("transformer"), dtype=torch.float32)
    assert transformer.cfg.keyframes_embedding and not transformer.cfg.ff_bias
    video, audio = load_text_connectors(split("transformer"), dtype=torch.float32)
    assert video.learnable_registers.shape[-1] == 64 and audio.learnable_registers.shape[-1] == 32
    vae = split("video_vae")
    assert load_video_encoder(vae).cfg == load_video_decoder(vae).cfg
    codec = AudioCodec.from_checkpoint(split("audio_vae"))
    assert codec.encoder is not None and codec.sample_rate == 48000


WRONG_FILE = [
    (load_transformer, "video_vae", r"tiny-ltx-2\.5-video-vae-conv\.safetensors has no transformer \(no 'transformer' config section\): pass the transformer file"),
    (load_text_connectors, "audio_vae", r"tiny-ltx-2\.5-audio-vae\.safetensors has no text connectors \(no 'transformer' config section\): pass the transformer file"),
    (load_video_encoder, "transformer", r"tiny-ltx-2\.5-22b-transformer\.safetensors has no video VAE \(no 'vae' config section\): pass the video VAE file"),
    (load_video_decoder, "audio_vae", r"tiny-ltx-2\.5-audio-vae\.safetensors has no video VAE .*: pass the video VAE file"),
    (load_audio_encoder, "video_vae", r"tiny-ltx-2\.5-video-vae-conv\.safetensors has no audio VAE \(no 'audio_vae' config section\): pass the audio VAE file"),
    (load_audio_decoder, "transformer", r"tiny-ltx-2\.5-22b-transformer\.safetensors has no audio VAE .*: pass the audio VAE file"),
    (load_vocoder, "video_vae", r"tiny-ltx-2\.5-video-vae-conv\.safetensors has no vocoder \(no 'vocoder' config section\): pass the audio VAE file"),
    (AudioCodec.from_checkpoint, "video_vae", r"tiny-ltx-2\.5-video-vae-conv\.safetensors has no audio VAE .*: pass the audio VAE file"),
]


@pytest.mark.parametrize("load, given, message", WRONG_FILE, ids=[f"{load.__name__}-{given}" for load, given, _ in WRONG_FILE])
def test_a_file_without_the_component_names_the_file_to_pass(load, given, message):
    with pytest.raises(MissingComponent, match=message):
        load(split(given))


def test_a_config_section_without_its_tensors_is_named_too(tmp_path):
    """A file whose header declares the video VAE but that holds none of its tensors (a truncated or mislabelled copy)."""
    stray = tmp_path / "video-vae-without-tensors.safetensors"
    metadata = {"config": json.dumps(split("video_vae").config), "model_version": "2.5.0"}
    save_file({"unrelated.weight": torch.zeros(1)}, str(stray), metadata=metadata)
    with pytest.raises(MissingComponent, match=r"video-vae-without-tensors\.safetensors has no video VAE \(no vae\.\* tensors\): pass the video VAE file"):
        load_video_decoder(CheckpointFile(stray))
