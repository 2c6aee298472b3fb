"""The "text embedding projection": all Gemma hidden states of a prompt -> one feature vector per token.

Input: the stacked hidden states ``[B, T, D, L]`` (D = Gemma width, L = Gemma layers + 1) and the attention
mask ``[B, T]`` (1 = real token). Each token's ``D x L`` values are normalised, flattened channel-major
(index ``d * L + l``) and projected by one linear layer per target.

* V1 (LTX-2, 19B): per sample and per layer, the valid tokens are centred on their mean and divided by their
  value range (max - min), times 8. One ``aggregate_embed`` (no bias) gives a D-wide vector that feeds both
  the video and the audio connector.
* V2 (LTX-2.3 and LTX-2.5): each token of each layer is divided by its RMS over the D channels. Two projections with bias,
  ``video_aggregate_embed`` and ``audio_aggregate_embed``, each applied after scaling by ``sqrt(out / D)``.

Padded positions are zero after normalisation in both versions.
"""

from __future__ import annotations

import math

import torch
from torch import nn

EPS = 1e-6

V2_FLAGS = {
    "caption_proj_before_connector": True,
    "caption_projection_first_linear": False,
    "caption_proj_input_norm": False,
    "caption_projection_second_linear": False,
}
"""The transformer-config flags that, all present with exactly these values, select V2."""


def _flatten_valid(normed: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
    """[B, T, D, L] -> [B, T, D*L] (index d*L + l) with padded tokens set to 0."""
    b, t, d, l = normed.shape
    return normed.reshape(b, t, d * l) * valid[:, :, None].to(normed.dtype)


class FeatureExtractorV1(nn.Module):
    """19B: masked per-layer mean / range normalisation, one shared projection without bias."""

    def __init__(self, hidden_size: int, num_hidden_states: int):
        super().__init__()
        self.aggregate_embed = nn.Linear(hidden_size * num_hidden_states, hidden_size, bias=False)

    def forward(self, hidden_states: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = hidden_states
        valid = mask.bool()
        keep = valid[:, :, None, None]  # [B, T, 1, 1]
        count = valid.sum(dim=1).to(x.dtype) * x.shape[2]  # valid values per layer: tokens x channels
        mean = x.masked_fill(~keep, 0.0).sum(dim=(1, 2), keepdim=True) / (count[:, None, None, None] + EPS)
        top = x.masked_fill(~keep, float("-inf")).amax(dim=(1, 2), keepdim=True)
        bottom = x.masked_fill(~keep, float("inf")).amin(dim=(1, 2), keepdim=True)
        normed = 8.0 * (x - mean) / (top - bottom + EPS)  # [B, T, D, L]
        features = self.aggregate_embed(_flatten_valid(normed, valid))
        return features, features


class FeatureExtractorV2(nn.Module):
    """2.3 / 2.5: per-token RMS normalisation, separate video / audio projections with bias."""

    def __init__(self, hidden_size: int, num_hidden_states: int, video_width: int, audio_width: int):
        super().__init__()
        self.hidden_size = hidden_size
        self.video_aggregate_embed = nn.Linear(hidden_size * num_hidden_states, video_width)
        self.audio_aggregate_embed = nn.Linear(hidden_size * num_hidden_states, audio_width)

    def forward(self, hidden_states: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = hidden_states
        normed = x * torch.rsqrt(x.pow(2).mean(dim=2, keepdim=True) + EPS)  # RMS over D per token and layer
        flat = _flatten_valid(normed, mask.bool())
        video = self.video_aggregate_embed(flat * math.sqrt(self.video_aggregate_embed.out_features / self.hidden_size))
        audio = self.audio_aggregate_embed(flat * math.sqrt(self.audio_aggregate_embed.out_features / self.hidden_size))
        return video, audio


def feature_extractor_version(transformer_config: dict) -> int:
    """1 or 2 from the checkpoint's ``config["transformer"]`` flags (the rule the reference applies)."""
    present = {k: transformer_config[k] for k in V2_FLAGS if k in transformer_config}
    if not present:
        return 1
    if present == V2_FLAGS:
        return 2
    raise ValueError(
        f"unsupported text projection flags in the checkpoint config: {present}; "
        f"expected none of them (LTX-2) or exactly {V2_FLAGS} (LTX-2.3 / 2.5)"
    )


def feature_extractor_from_config(transformer_config: dict, hidden_size: int, num_hidden_states: int) -> nn.Module:
    """Build the extractor for a checkpoint. ``hidden_size`` / ``num_hidden_states`` come from the Gemma config
    (3840 and 48 + 1 for Gemma 3 12B and for Gemma 4 12B); the output widths of V2 from the connector sizes in the LTX config."""
    if feature_extractor_version(transformer_config) == 1:
        return FeatureExtractorV1(hidden_size, num_hidden_states)
    c = transformer_config
    return FeatureExtractorV2(
        hidden_size,
        num_hidden_states,
        video_width=c["connector_num_attention_heads"] * c["connector_attention_head_dim"],
        audio_width=c["audio_connector_num_attention_heads"] * c["audio_connector_attention_head_dim"],
    )
