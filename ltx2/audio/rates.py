"""Audio time facts of LTX-2 / LTX-2.3, in one place.

The audio VAE sees log-mel frames at 16 kHz with a hop of 160 samples (100 mel frames per second) and compresses
time by 4, causally: latent frame 0 covers one mel frame, every later one covers four. So a clip has
25 audio latents per second, and T latents decode to 4T - 3 mel frames.
"""

from __future__ import annotations

import math
from fractions import Fraction

SAMPLE_RATE = 16_000
"""Sample rate of the mel front end (the audio VAE's input)."""
MEL_HOP = 160
"""Samples per mel frame at SAMPLE_RATE."""
LATENT_DOWNSAMPLE = 4
"""Mel frames per audio latent frame."""
LATENTS_PER_SECOND = SAMPLE_RATE // MEL_HOP // LATENT_DOWNSAMPLE  # 25


def mel_frames_for_samples(samples: int) -> int:
    """Mel frames of a 16 kHz waveform (centred STFT): 1 + samples // hop."""
    return 1 + samples // MEL_HOP


def latent_frames_for_mel(mel_frames: int) -> int:
    """Latent frames the encoder makes from ``mel_frames`` (two stride-2 causal steps: ceil(T / 4))."""
    return math.ceil(mel_frames / LATENT_DOWNSAMPLE)


def mel_frames_for_latents(latent_frames: int) -> int:
    """Mel frames the decoder makes from ``latent_frames`` (causal: 4T - 3, at least 1)."""
    return max(LATENT_DOWNSAMPLE * latent_frames - (LATENT_DOWNSAMPLE - 1), 1)


def latent_frames_for_video(frames: int, fps: float | Fraction) -> int:
    """Audio latents that go with ``frames`` video frames at ``fps``: round(25 * duration), as the reference does."""
    return round(float(frames) / float(fps) * LATENTS_PER_SECOND)


def latent_start_seconds(index: int) -> float:
    """Wall-clock time where audio latent ``index`` begins (the first mel frame it fully covers)."""
    return max(0, LATENT_DOWNSAMPLE * index - (LATENT_DOWNSAMPLE - 1)) * MEL_HOP / SAMPLE_RATE


def audio_latents_for(frames: int, fps: Fraction) -> int:
    """Audio latent steps for a chunk of ``frames`` video frames: enough that the decoded sound ((4T - 3) mel
    frames) covers every frame."""
    return math.ceil(Fraction(LATENTS_PER_SECOND * frames) / Fraction(fps) + Fraction(3, 4))
