"""Feature consistency from a local vision model (a CLIP, DINOv2, ViT... folder): optional, never downloaded.

The model is loaded with Hugging Face ``AutoModel`` from the folder the user names (``local_files_only``: nothing is
fetched). Each embedded frame is resized to the model's square input size and normalised with the mean and
standard deviation of the folder's ``preprocessor_config.json`` (ImageNet's when it has none); its embedding is the
model's image features (CLIP), else its pooled output, else its first token. Frames embedded: the two at every
boundary and up to :data:`PAIRS_PER_CHUNK` pairs of neighbouring frames spread over each chunk; the pairs' cosine
distances give the boundary's ``feature_*`` fields, the chunks' mean embeddings each chunk's ``feature_drift``
(cosine distance to the first chunk's).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import InputError
from .chunks import ChunkLayout

PAIRS_PER_CHUNK = 8
BATCH = 16
_IMAGENET = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))


class FeatureModel:
    def __init__(self, folder: str | os.PathLike, device: str | torch.device | None = None):
        self.folder = Path(folder)
        if not (self.folder / "config.json").is_file():
            hint = "give a local Hugging Face vision model folder such as a CLIP or DINOv2 download, or none to skip the feature metric"
            raise InputError([("feature_model", f"{self.folder} is not a model folder (no config.json); {hint}")])
        from transformers import AutoModel

        try:
            self.model = AutoModel.from_pretrained(self.folder, local_files_only=True).eval()
        except (OSError, ValueError, KeyError) as e:
            raise InputError([("feature_model", f"cannot load a vision model from {self.folder}: {e}")]) from None
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.model.to(self.device)
        config = getattr(self.model.config, "vision_config", None) or self.model.config
        self.size = int(getattr(config, "image_size", 224))
        mean, std = _IMAGENET
        processor = self.folder / "preprocessor_config.json"
        if processor.is_file():
            settings = json.loads(processor.read_text())
            mean, std = settings.get("image_mean", mean), settings.get("image_std", std)
        self.mean = torch.tensor(mean, dtype=torch.float32).view(1, 3, 1, 1)
        self.std = torch.tensor(std, dtype=torch.float32).view(1, 3, 1, 1)

    @torch.no_grad()
    def embed(self, frames: np.ndarray) -> np.ndarray:
        """[B, h, w, 3] uint8 -> [B, D] unit-length embeddings."""
        x = torch.from_numpy(frames).permute(0, 3, 1, 2).float() / 255
        x = F.interpolate(x, size=(self.size, self.size), mode="bilinear", antialias=True, align_corners=False)
        x = ((x - self.mean) / self.std).to(self.device, next(self.model.parameters()).dtype)
        out = self.model.get_image_features(pixel_values=x) if hasattr(self.model, "get_image_features") else self.model(pixel_values=x)
        if not isinstance(out, torch.Tensor):
            pooled = getattr(out, "pooler_output", None)
            out = pooled if pooled is not None else out.last_hidden_state[:, 0]
        return F.normalize(out.float().flatten(1), dim=1).cpu().numpy()


def frames_to_embed(layout: ChunkLayout) -> set[int]:
    """Both frames of every boundary and of up to :data:`PAIRS_PER_CHUNK` neighbour pairs per chunk."""
    wanted: set[int] = set()
    for start, end in layout.ranges:
        if end - start >= 2:
            for i in np.unique(np.linspace(start + 1, end - 1, min(PAIRS_PER_CHUNK, end - start - 1)).round().astype(int)):
                wanted.update((int(i) - 1, int(i)))
    for frame in layout.boundaries:
        wanted.update((frame - 1, frame))
    return wanted


def feature_signals(model: FeatureModel, frames: Iterator[np.ndarray], layout: ChunkLayout) -> tuple[np.ndarray, list[float]]:
    """(pair distances [N]: 1 - cos of frame i-1 and i where both were embedded, NaN elsewhere; each chunk's feature
    drift: the cosine distance of its mean embedding to the first chunk's)."""
    wanted = frames_to_embed(layout)
    embedded: dict[int, np.ndarray] = {}
    batch: list[tuple[int, np.ndarray]] = []

    def flush() -> None:
        for (i, _), e in zip(batch, model.embed(np.stack([f for _, f in batch]))):
            embedded[i] = e
        batch.clear()

    for i, frame in enumerate(frames):
        if i in wanted:
            batch.append((i, frame))
            if len(batch) == BATCH:
                flush()
    if batch:
        flush()
    distances = np.full(layout.total, np.nan)
    for i, e in embedded.items():
        if i - 1 in embedded:
            distances[i] = max(0.0, 1 - float(embedded[i - 1] @ e))
    means = []
    for start, end in layout.ranges:
        mean = np.mean([e for i, e in embedded.items() if start <= i < end], axis=0)
        means.append(mean / max(np.linalg.norm(mean), 1e-12))
    # the first chunk is the reference: its drift is 0 by definition (1 - m @ m can round to one float32 ulp)
    return distances, [0.0] + [max(0.0, float(1 - means[0] @ m)) for m in means[1:]]
