"""audio_decode: latent -> log-mel (audio VAE decoder) -> waveform (HiFi-GAN, or BigVGAN + bandwidth extension
with every BWE stage compared)."""

import torch

from ltx2.audio.codec import AudioCodec
from ltx2.loading.checkpoint import CheckpointFile
from ltx2.model.vocoder import BandwidthExtendedVocoder


def run(case):
    codec = AudioCodec.from_checkpoint(CheckpointFile(case.checkpoint_file("audio_vae")), dtype=torch.float32, parts=("decoder", "vocoder"))
    latent = case.inputs["latent"]
    with torch.inference_mode():
        mel = codec.decoder(latent)
        case.check("mel", mel)
        if isinstance(codec.vocoder, BandwidthExtendedVocoder):
            for name, tensor in codec.vocoder.stages(mel).items():
                if name != "waveform":
                    case.check(name, tensor)
    waveform, rate = codec.decode_audio(latent)
    assert rate == case.args["output_sample_rate"]
    case.check("waveform", waveform)
