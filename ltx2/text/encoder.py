"""Prompts -> the text conditioning of the LTX-2 / 2.3 / 2.5 DiT.

    prompt --Gemma (3, or 4 for 2.5)--> hidden states [B, T, D, L] --feature extractor--> video / audio features [B, T, C]
           --connectors (optional, plugged in)--> video / audio contexts

The seam to the embeddings connectors is explicit: a connector is any callable ``(features [B, T, C], mask
[B, T]) -> context [B, T, C']``. Without connectors, ``TextEncoder.encode`` returns the features and the token
mask (``stage == "features"``); with both connectors it returns their contexts (``stage == "context"``) and an
all-ones mask, because a connector fills every padded slot with learned registers and moves the valid tokens
first, so the DiT attends to every position.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Literal, Sequence

import torch
from torch import nn

from .gemma import GemmaEncoder

Connector = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
"""``(features [B, T, C], mask [B, T]) -> context [B, T, C']`` (e.g. an ``Embeddings1DConnector``)."""


@dataclass(frozen=True)
class TextConditioning:
    video: torch.Tensor  # [B, T, C_video]
    audio: torch.Tensor  # [B, T, C_audio]
    mask: torch.Tensor  # [B, T] int64, 1 = attend
    stage: Literal["features", "context"]

    def to(self, device) -> "TextConditioning":
        return TextConditioning(self.video.to(device), self.audio.to(device), self.mask.to(device), self.stage)


class TextEncoder:
    def __init__(
        self,
        gemma: GemmaEncoder,
        feature_extractor: nn.Module,
        *,
        video_connector: Connector | None = None,
        audio_connector: Connector | None = None,
    ):
        if (video_connector is None) != (audio_connector is None):
            raise ValueError("plug in both connectors (video and audio) or neither")
        self.gemma = gemma
        self.feature_extractor = feature_extractor
        self.video_connector = video_connector
        self.audio_connector = audio_connector

    @torch.inference_mode()
    def features(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> TextConditioning:
        """Token ids + mask -> the feature extractor's video / audio features and the token mask."""
        weight = next(self.feature_extractor.parameters())
        hidden = self.gemma.hidden_states(input_ids, attention_mask).to(weight.device, weight.dtype)
        mask = attention_mask.to(weight.device)
        video, audio = self.feature_extractor(hidden, mask)
        return TextConditioning(video, audio, mask, "features")

    @torch.inference_mode()
    def connect(self, features: TextConditioning) -> TextConditioning:
        """Features -> contexts through the plugged-in connectors."""
        if self.video_connector is None:
            raise RuntimeError("no connectors plugged into this text encoder")
        video = self.video_connector(features.video, features.mask)
        audio = self.audio_connector(features.audio, features.mask)
        return TextConditioning(video, audio, torch.ones_like(features.mask), "context")

    def encode(self, prompts: Sequence[str]) -> TextConditioning:
        """Prompts -> features (no connectors) or contexts (connectors plugged in)."""
        features = self.features(*self.gemma.tokenize(prompts))
        return features if self.video_connector is None else self.connect(features)
