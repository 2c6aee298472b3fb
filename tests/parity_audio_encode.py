"""audio_encode: waveform (any rate) -> resampled 16 kHz waveform (when recorded) -> log-mel -> normalised latent."""

import torch

from ltx2.audio.codec import AudioCodec
from ltx2.audio.resample import resample
from ltx2.loading.checkpoint import CheckpointFile


def run(case):
    codec = AudioCodec.from_checkpoint(CheckpointFile(case.checkpoint), dtype=torch.float32, parts=("encoder",))
    waveform, rate = case.inputs["waveform"], case.args["input_sample_rate"]
    if "waveform_resampled" in case.expected:
        case.check("waveform_resampled", resample(waveform, rate, codec.front_end.sample_rate))
    case.check("mel", codec.mel(waveform, rate))
    case.check("latent", codec.encode_audio(waveform, rate))
