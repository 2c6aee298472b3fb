"""Full-size audio VAE and vocoder, built on the meta device from the manifests' configs, carry exactly the
``audio_vae.*`` and ``vocoder.*`` keys and shapes of the real 19B and 2.3 files (README section 2 mapping) and of
LTX-2.5's split audio VAE file, which holds nothing else."""

import pytest
from reference import manifest

from ltx2.loading.build import build_on_meta
from ltx2.model.audio_vae import AudioDecoder, AudioEncoder, AudioVAEConfig
from ltx2.model.vocoder import BandwidthExtendedVocoder, Generator, build_vocoder


def file_keys(module, part_prefix):
    """Module state-dict keys -> file keys: statistics shared under audio_vae.per_channel_statistics."""
    out = {}
    for key, tensor in module.state_dict().items():
        if key.startswith("per_channel_statistics."):
            file_key = "audio_vae." + key
        else:
            file_key = part_prefix + key
        out[file_key] = list(tensor.shape)
    return out


@pytest.mark.parametrize(
    "name, vocoder_type",
    [("ltx-2-19b.json", Generator), ("ltx-2.3-22b.json", BandwidthExtendedVocoder), ("ltx-2.5-audio-vae.json", BandwidthExtendedVocoder)],
)
def test_audio_modules_match_the_full_size_manifest(name, vocoder_type):
    m = manifest(name)
    cfg = AudioVAEConfig.from_config(m["config"]["audio_vae"])
    encoder = file_keys(build_on_meta(lambda: AudioEncoder(cfg)), "audio_vae.encoder.")
    decoder = file_keys(build_on_meta(lambda: AudioDecoder(cfg)), "audio_vae.decoder.")
    vocoder_module = build_on_meta(lambda: build_vocoder(m["config"]["vocoder"]))
    assert type(vocoder_module) is vocoder_type
    vocoder = {"vocoder." + k: list(t.shape) for k, t in vocoder_module.state_dict().items()}

    shared = set(encoder) & set(decoder)
    assert shared == {"audio_vae.per_channel_statistics.mean-of-means", "audio_vae.per_channel_statistics.std-of-means"}
    assert all(encoder[k] == decoder[k] for k in shared)

    ours = {**encoder, **decoder, **vocoder}
    theirs = {k: v["shape"] for k, v in m["tensors"].items() if k.startswith(("audio_vae.", "vocoder."))}
    assert sorted(set(theirs) - set(ours)) == []
    assert sorted(set(ours) - set(theirs)) == []
    assert {k: v for k, v in ours.items() if theirs[k] != v} == {}
    per_prefix = m.get("tensors_per_prefix")  # single files count per component; the split file is all audio
    assert len(ours) == (per_prefix["audio_vae."] + per_prefix["vocoder."] if per_prefix else m["num_tensors"])
