"""Full-size 19B, 2.3 and 2.5 configs built on meta reproduce every ``model.diffusion_model.`` key and shape (for
2.5: the whole split transformer file, DiT and text connectors)."""

import pytest
from reference import manifest

from ltx2.loading.build import build_on_meta
from ltx2.loading.transformer import DIT_PREFIX
from ltx2.model.connector import ConnectorConfig, EmbeddingsConnector
from ltx2.model.transformer import AudioVideoTransformer

# Tensor counts from the reference README: 2.5 = 2.3's 4444 - 96 video feed-forward biases + the keyframes embedding.
DIT_TENSORS = {"ltx-2-19b.json": 3568, "ltx-2.3-22b.json": 4444, "ltx-2.5-22b-transformer.json": 4349}


@pytest.mark.parametrize("name", sorted(DIT_TENSORS))
def test_dit_and_connectors_match_manifest(name):
    m = manifest(name)
    expected = {k: v["shape"] for k, v in m["tensors"].items() if k.startswith(DIT_PREFIX)}
    built = {}
    dit = build_on_meta(lambda: AudioVideoTransformer.from_config(m["config"]))
    built.update({DIT_PREFIX + k: list(v.shape) for k, v in dit.state_dict().items()})
    for stream, audio in (("video", False), ("audio", True)):
        connector = build_on_meta(lambda: EmbeddingsConnector(ConnectorConfig.from_config(m["config"]["transformer"], audio=audio)))
        built.update({f"{DIT_PREFIX}{stream}_embeddings_connector.{k}": list(v.shape) for k, v in connector.state_dict().items()})
    assert sorted(set(expected) - set(built))[:5] == []
    assert sorted(set(built) - set(expected))[:5] == []
    assert {k: s for k, s in built.items() if expected[k] != s} == {}
    assert len(built) == DIT_TENSORS[name]
    # caption projections live in the 19B DiT only; the keyframes embedding and bias-free video FFNs in 2.5 only
    assert hasattr(dit, "caption_projection") == (name == "ltx-2-19b.json")
    ltx25 = name == "ltx-2.5-22b-transformer.json"
    assert hasattr(dit, "keyframes_abs_pos_embedding") == ltx25
    assert (dit.transformer_blocks[0].ff.net[2].bias is None) == ltx25
    assert dit.transformer_blocks[0].audio_ff.net[2].bias is not None
