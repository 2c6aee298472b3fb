"""Text connectors beyond the reference cases (those run in tests/parity_text_embeddings.py)."""

import torch
from reference import Case, cases

from ltx2.loading.checkpoint import CheckpointFile
from ltx2.loading.transformer import load_text_connectors

CASES = [e for e in cases() if e["kind"] == "text_embeddings"]


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
