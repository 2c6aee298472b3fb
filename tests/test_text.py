"""The Gemma side of the LTX text path against the reference cases, plus tokenisation and the prompt cache."""

import pytest
import torch
from reference import Case, cases, manifest
from text_fixtures import TINY_GEMMA, tiny_tokenizer

from ltx2.loading.build import build_on_meta
from ltx2.loading.checkpoint import CheckpointFile
from ltx2.loading.gemma import GEMMA3_12B_TEXT_CONFIG, load_gemma_text_model
from ltx2.loading.text_encoder import load_feature_extractor
from ltx2.text.cache import PromptCache
from ltx2.text.encoder import TextEncoder
from ltx2.text.features import (
    FeatureExtractorV1,
    FeatureExtractorV2,
    feature_extractor_from_config,
    feature_extractor_version,
)
from ltx2.text.gemma import GemmaEncoder


def entries(kind):
    return [pytest.param(e, id=e["case"]) for e in cases() if e["kind"] == kind]


@pytest.fixture(scope="module")
def tiny_gemma():
    return load_gemma_text_model(TINY_GEMMA, dtype=torch.float32)


@pytest.mark.parametrize(
    "config_from, tensors_from, version",
    [
        ("ltx-2-19b.json", "ltx-2-19b.json", 1),
        ("ltx-2.3-22b.json", "ltx-2.3-22b.json", 2),
        ("ltx-2.5-22b-transformer.json", "gemma4-12b-with-proj-ltx-2.5.json", 2),  # 2.5: the projection is in the TE file
    ],
)
def test_full_size_projection_keys_match_manifest(config_from, tensors_from, version):
    config = manifest(config_from)["config"]["transformer"]
    # Gemma 3 12B; Gemma 4 12B is reported with the same width and depth (3840, 48 layers)
    hidden, states = GEMMA3_12B_TEXT_CONFIG["hidden_size"], GEMMA3_12B_TEXT_CONFIG["num_hidden_layers"] + 1
    assert (hidden, states) == (3840, 49)
    assert feature_extractor_version(config) == version
    module = build_on_meta(lambda: feature_extractor_from_config(config, hidden, states))
    ours = {"text_embedding_projection." + k: list(v.shape) for k, v in module.state_dict().items()}
    theirs = {k: v["shape"] for k, v in manifest(tensors_from)["tensors"].items() if k.startswith("text_embedding_projection.")}
    assert ours == theirs


def test_version_selection_refuses_partial_flags():
    assert feature_extractor_version({}) == 1
    with pytest.raises(ValueError, match="unsupported text projection flags"):
        feature_extractor_version({"caption_proj_before_connector": True})
    with pytest.raises(ValueError, match="unsupported text projection flags"):
        feature_extractor_version(
            {"caption_proj_before_connector": True, "caption_projection_first_linear": True, "caption_proj_input_norm": False, "caption_projection_second_linear": False}
        )


@pytest.mark.parametrize("extractor", [FeatureExtractorV1(8, 3), FeatureExtractorV2(8, 3, 12, 6)], ids=["v1", "v2"])
def test_features_ignore_padded_rows(extractor):
    torch.manual_seed(0)
    for p in extractor.parameters():
        torch.nn.init.normal_(p)
    hidden = torch.randn(2, 10, 8, 3)
    mask = torch.zeros(2, 10, dtype=torch.long)
    mask[0, 4:] = 1
    mask[1, 7:] = 1
    garbage = hidden.clone()
    garbage[mask == 0] = 1e4 * torch.randn_like(garbage[mask == 0])
    with torch.no_grad():
        clean, dirty = extractor(hidden, mask), extractor(garbage, mask)
        for a, b in zip(clean, dirty):
            assert torch.allclose(a, b, atol=1e-5)
        # a sample's features depend only on its own valid tokens, not on the rest of the batch
        alone = extractor(hidden[1:], mask[1:])
        assert torch.allclose(alone[0], clean[0][1:], atol=1e-5)


def test_tokenize_strips_left_pads_and_starts_with_bos(tiny_gemma):
    for add_bos in (True, False):
        tok = tiny_tokenizer(add_bos)
        gemma = GemmaEncoder(tiny_gemma, tok, max_length=12)
        ids, mask = gemma.tokenize(["  a cat sat  ", "a cat sat", ""])
        body = tok("a cat sat", add_special_tokens=False)["input_ids"]
        assert tok("  a cat sat  ", add_special_tokens=False)["input_ids"] != body  # so stripping matters
        assert ids.shape == mask.shape == (3, 12) and ids.dtype == mask.dtype == torch.long
        assert ids[0].tolist() == ids[1].tolist() == [0] * (11 - len(body)) + [2] + body
        assert mask[1].tolist() == [0] * (11 - len(body)) + [1] * (1 + len(body))
        assert ids[2].tolist() == [0] * 11 + [2] and int(mask[2].sum()) == 1
    ids, mask = GemmaEncoder(tiny_gemma, tiny_tokenizer(True), max_length=3).tokenize(["a cat sat on the mat"])
    assert ids[0, 0] == 2 and int(mask.sum()) == 3  # truncated to max_length, bos kept


def test_tokenize_without_tokenizer_says_so(tiny_gemma):
    with pytest.raises(RuntimeError, match="without a tokenizer"):
        GemmaEncoder(tiny_gemma).tokenize(["a cat"])


def _counted_encoder(tiny_gemma, **connectors):
    calls = []
    tiny_gemma.register_forward_hook(lambda module, args, kwargs, out: calls.append(1), with_kwargs=True)
    case = Case(next(e for e in cases() if e["case"] == "ltx23/text_gemma_end_to_end"))
    extractor = load_feature_extractor(CheckpointFile(case.checkpoint), 32, 4, dtype=torch.float32)
    return TextEncoder(GemmaEncoder(tiny_gemma, tiny_tokenizer(True), max_length=16), extractor, **connectors), calls


def test_prompt_cache_encodes_each_text_once():
    gemma = load_gemma_text_model(TINY_GEMMA, dtype=torch.float32)
    encoder, calls = _counted_encoder(gemma)
    cache = PromptCache(encoder)
    positive, negative = cache.get("a cat sat", "the mat")
    assert len(calls) == 2 and len(cache) == 2
    assert positive.video.shape == (1, 16, 64) and positive.audio.shape == (1, 16, 32) and positive.stage == "features"
    again, again_negative = cache.get(" a cat sat ", "the mat")  # same text after strip
    assert len(calls) == 2
    assert again is positive and again_negative is negative
    cache.warm(["a cat sat", "on the mat", "the mat"])
    assert len(calls) == 3 and "on the mat" in cache
    assert cache.get("a cat sat")[1] is None
    fresh = encoder.encode(["a cat sat"])  # the cached result is what the encoder computes
    assert torch.equal(fresh.video, positive.video) and torch.equal(fresh.mask, positive.mask)


def test_connectors_plug_in_as_callables():
    gemma = load_gemma_text_model(TINY_GEMMA, dtype=torch.float32)
    seen = []

    def connector(scale):
        def run(features, mask):
            seen.append((features.shape, mask.clone()))
            return features * scale

        return run

    encoder, _ = _counted_encoder(gemma, video_connector=connector(2.0), audio_connector=connector(3.0))
    features = TextEncoder(encoder.gemma, encoder.feature_extractor).encode(["a cat"])
    context = encoder.encode(["a cat"])
    assert context.stage == "context" and torch.equal(context.mask, torch.ones_like(features.mask))
    assert torch.equal(context.video, 2.0 * features.video) and torch.equal(context.audio, 3.0 * features.audio)
    assert [s for s, _ in seen] == [features.video.shape, features.audio.shape]
    assert all(torch.equal(m, features.mask) for _, m in seen)  # connectors receive the token mask
    with pytest.raises(ValueError, match="both connectors"):
        TextEncoder(encoder.gemma, encoder.feature_extractor, video_connector=connector(1.0))
