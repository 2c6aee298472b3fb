"""Full-size 19B and 2.3 configs built on meta reproduce every ``model.diffusion_model.`` key and shape."""

import pytest
from reference import manifest

from ltx2.loading.build import build_on_meta
from ltx2.loading.transformer import DIT_PREFIX
from ltx2.model.connector import ConnectorConfig, EmbeddingsConnector
from ltx2.model.transformer import AudioVideoTransformer


@pytest.mark.parametrize("name", ["ltx-2-19b.json", "ltx-2.3-22b.json"])
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
    # caption projections live in the 19B DiT only
    assert hasattr(dit, "caption_projection") == (name == "ltx-2-19b.json")
