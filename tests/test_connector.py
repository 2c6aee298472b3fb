"""Text connectors (and the 19B caption projections) against the reference ``text_embeddings`` cases.

The feature extractor is not ours to test here: the reference's own ``features_video`` / ``features_audio``
go into our connectors, and their outputs are compared with ``video_context`` / ``audio_context``.
"""

import pytest
import torch

from ltx2.loading.checkpoint import CheckpointFile
from ltx2.loading.transformer import load_text_connectors, load_transformer
from reference import Case, cases

CASES = [e for e in cases() if e["kind"] == "text_embeddings"]


@pytest.mark.parametrize("entry", CASES, ids=[e["case"] for e in CASES])
def test_connectors_match_reference(entry):
    case = Case(entry)
    ckpt = CheckpointFile(case.checkpoint)
    video_connector, audio_connector = load_text_connectors(ckpt, dtype=torch.float32)
    mask = case.inputs["attention_mask"]
    assert mask[0, 0] == 0 and mask[0, -1] == 1, "the case is meant to be left-padded"
    with torch.no_grad():
        video = video_connector(case.expected["features_video"], mask)
        audio = audio_connector(case.expected["features_audio"], mask)
        case.check("video_context", video)
        case.check("audio_context", audio)
        if "video_context_projected" in case.expected:
            dit = load_transformer(ckpt, dtype=torch.float32)
            case.check("video_context_projected", dit.caption_projection(video))
            case.check("audio_context_projected", dit.audio_caption_projection(audio))


def test_connector_is_independent_of_padding_side():
    entry = next(e for e in CASES if e["arch"] == "ltx23")
    case = Case(entry)
    video_connector, _ = load_text_connectors(CheckpointFile(case.checkpoint), dtype=torch.float32)
    features, mask = case.expected["features_video"], case.inputs["attention_mask"]
    n = int(mask.sum())
    # The same valid tokens right-padded (pad contents are irrelevant: registers replace them).
    right = torch.zeros_like(features)
    right[:, :n] = features[mask.bool()].view(1, n, -1)
    right_mask = torch.zeros_like(mask)
    right_mask[:, :n] = 1
    with torch.no_grad():
        torch.testing.assert_close(video_connector(right, right_mask), video_connector(features, mask))
