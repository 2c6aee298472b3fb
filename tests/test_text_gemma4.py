"""LTX-2.5's text encoder: the packed Gemma 4 file (config, tokenizer, projection inside), an HF folder of the same
model, the Gemma version check between the transformer file and the text encoder, and clear errors for files
that are not what they should be."""

import json
import logging

import pytest
import torch
from reference import Case, cases, checkpoint_entry, path
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from text_fixtures import TINY_GEMMA

from ltx2.loading.build import CheckpointMismatch
from ltx2.loading.checkpoint import CheckpointFile
from ltx2.loading.gemma import load_gemma_text_model, load_gemma_tokenizer
from ltx2.loading.text_encoder import check_gemma_version, load_text_encoder
from ltx2.text.gemma import GemmaEncoder

TE = path(checkpoint_entry("ltx25_text_encoder")["file"])
DIT25 = path(checkpoint_entry("ltx25_transformer")["file"])
VAE25 = path(checkpoint_entry("ltx25_video_vae")["file"])
LTX23 = path("fixtures/checkpoints/tiny-ltx-2.3-22b.safetensors")


def metadata(file) -> dict:
    with safe_open(str(file), framework="pt") as f:
        return dict(f.metadata())


def rewrite(source, target, *, metadata_update=None, drop=lambda key: False):
    """A copy of ``source`` with its metadata updated (a value None removes the key) and the keys ``drop`` picks left out."""
    meta = {k: v for k, v in {**metadata(source), **(metadata_update or {})}.items() if v is not None}
    save_file({k: v for k, v in load_file(str(source)).items() if not drop(k)}, str(target), metadata=meta)
    return target


def with_gemma_config(target, **changes):
    config = json.loads(metadata(TE)["gemma_config"])
    return rewrite(TE, target, metadata_update={"gemma_config": json.dumps({**config, **changes})})


@pytest.fixture(scope="module")
def e2e():
    return Case(next(e for e in cases() if e["case"] == "ltx25/text_gemma_end_to_end"))


def test_packed_file_loads_gemma4_with_its_tokenizer_and_projection(e2e):
    encoder = load_text_encoder(CheckpointFile(DIT25), TE, dtype=torch.float32, max_length=8)
    assert type(encoder.gemma.model).__name__ == "Gemma4UnifiedTextModel"
    assert (encoder.gemma.hidden_size, encoder.gemma.num_hidden_states) == (32, 4)
    # the tokenizer inside the file: a word-level vocabulary t4..t255, <bos> first, left padding with <pad>
    ids, mask = encoder.gemma.tokenize(["t5 t9 t200"])
    assert ids.tolist() == [[0, 0, 0, 0, 2, 5, 9, 200]] and mask.tolist() == [[0, 0, 0, 0, 1, 1, 1, 1]]
    # the projection comes from the text-encoder file (the transformer file has none)
    stored = load_file(str(TE))
    for name, tensor in encoder.feature_extractor.state_dict().items():
        assert torch.equal(tensor, stored["text_embedding_projection." + name].float()), name
    # the features of the reference's token ids (the connectors are checked by the parity case)
    features = encoder.features(e2e.inputs["input_ids"], e2e.inputs["attention_mask"])
    e2e.check("features_video", features.video)
    e2e.check("features_audio", features.audio)


def test_hf_folder_equals_packed_file(tmp_path, e2e):
    """An HF folder of the same model (config.json with gemma_version, weights as save_pretrained names them)."""
    folder = tmp_path / "gemma4-ltx"
    folder.mkdir()
    (folder / "config.json").write_text(metadata(TE)["gemma_config"])
    tensors = load_file(str(TE))
    save_file({"model.language_model." + k[len("model.") :]: v for k, v in tensors.items() if k.startswith("model.")}, str(folder / "model.safetensors"))
    (folder / "tokenizer.json").write_bytes(tensors["tokenizer_json"].numpy().tobytes())
    (folder / "tokenizer_config.json").write_bytes(tensors["hf_asset__tokenizer_config.json"].numpy().tobytes())
    ids, mask = e2e.inputs["input_ids"], e2e.inputs["attention_mask"]
    packed = GemmaEncoder(load_gemma_text_model(TE, dtype=torch.float32)).hidden_states(ids, mask)
    unpacked = GemmaEncoder(load_gemma_text_model(folder, dtype=torch.float32)).hidden_states(ids, mask)
    assert torch.equal(packed, unpacked)
    check_gemma_version(CheckpointFile(DIT25), folder)  # the folder declares the same gemma_version
    assert load_gemma_tokenizer(folder)("t7 t8")["input_ids"][-2:] == [7, 8]


def test_gemma3_folder_with_a_25_transformer_names_both_files_and_versions():
    with pytest.raises(CheckpointMismatch) as error:
        load_text_encoder(CheckpointFile(DIT25), TINY_GEMMA)
    message = str(error.value)
    assert DIT25.name in message and TINY_GEMMA.name in message
    assert "'gemma4-12b-ltx-v1'" in message and "declares no gemma_version" in message


def test_other_declared_version_is_refused(tmp_path):
    other = with_gemma_config(tmp_path / "gemma4-ltx-v2.safetensors", gemma_version="gemma4-12b-ltx-v2")
    with pytest.raises(CheckpointMismatch, match=r"tiny-ltx-2\.5-22b-transformer\.safetensors needs .*'gemma4-12b-ltx-v1'.*gemma4-ltx-v2\.safetensors declares gemma_version 'gemma4-12b-ltx-v2'"):
        check_gemma_version(CheckpointFile(DIT25), other)


def test_gemma4_with_an_older_checkpoint_is_refused():
    with pytest.raises(CheckpointMismatch, match=r"tiny-ltx-2\.3-22b\.safetensors \(model version 2\.3\.0\) needs Gemma 3 12B, but the text encoder tiny-gemma4.*'gemma4-12b-ltx-v1'"):
        check_gemma_version(CheckpointFile(LTX23), TE)
    check_gemma_version(CheckpointFile(LTX23), TINY_GEMMA)  # the pair LTX-2.3 ships with


def test_unversioned_25_checkpoint(tmp_path, caplog):
    """model version >= 2.4 without gemma_source_checkpoint: a text encoder that declares a version cannot be
    matched (error); one that declares none is let through with a warning, as the reference does."""
    dit = rewrite(DIT25, tmp_path / "dit-unversioned.safetensors", metadata_update={"gemma_source_checkpoint": None})
    with pytest.raises(CheckpointMismatch, match=r"dit-unversioned\.safetensors \(model version 2\.5\.0\) names no gemma_source_checkpoint .*'gemma4-12b-ltx-v1'"):
        check_gemma_version(CheckpointFile(dit), TE)
    with caplog.at_level(logging.WARNING, logger="ltx2.loading.text_encoder"):
        check_gemma_version(CheckpointFile(dit), TINY_GEMMA)
    assert "names no Gemma version" in caplog.text


def test_foreign_files_are_named(tmp_path):
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x05\x00\x00\x00\x00\x00\x00\x00{oops")
    with pytest.raises(CheckpointMismatch, match=r"junk\.safetensors: not a \.safetensors file"):
        check_gemma_version(CheckpointFile(DIT25), junk)
    with pytest.raises(CheckpointMismatch, match=r"junk\.safetensors: not a \.safetensors file"):
        load_gemma_text_model(junk)
    short = tmp_path / "short.safetensors"
    short.write_bytes(b"\x01")
    with pytest.raises(CheckpointMismatch, match=r"short\.safetensors: not a \.safetensors file"):
        load_gemma_tokenizer(short)
    # another component's file given as the text encoder
    with pytest.raises(CheckpointMismatch, match=r"tiny-ltx-2\.5-video-vae-conv\.safetensors declares no gemma_version"):
        check_gemma_version(CheckpointFile(DIT25), VAE25)
    with pytest.raises(CheckpointMismatch, match=r"tiny-ltx-2\.5-video-vae-conv\.safetensors: not a Gemma text encoder"):
        load_gemma_text_model(VAE25)


def test_broken_packed_files_are_named(tmp_path):
    broken = rewrite(TE, tmp_path / "broken.safetensors", metadata_update={"gemma_config": "{not json"})
    with pytest.raises(CheckpointMismatch, match=r"broken\.safetensors: __metadata__\['gemma_config'\] is not valid JSON"):
        load_gemma_text_model(broken)
    dense = with_gemma_config(tmp_path / "dense.safetensors", text_config={"model_type": "gemma4_text", "hidden_size": 32})
    with pytest.raises(CheckpointMismatch, match=r"dense\.safetensors: a Gemma text model of type 'gemma4_text' cannot encode LTX prompts"):
        load_gemma_text_model(dense)
    untokenized = rewrite(TE, tmp_path / "untokenized.safetensors", drop=lambda key: key == "tokenizer_json")
    with pytest.raises(FileNotFoundError, match=r"untokenized\.safetensors is a packed Gemma file without tokenizer_json"):
        load_gemma_tokenizer(untokenized)
    unprojected = rewrite(TE, tmp_path / "no-proj.safetensors", drop=lambda key: key.startswith("text_embedding_projection."))
    with pytest.raises(CheckpointMismatch, match=r"no text projection \(text_embedding_projection\.\*\) in tiny-ltx-2\.5-22b-transformer\.safetensors nor in no-proj\.safetensors"):
        load_text_encoder(CheckpointFile(DIT25), unprojected)


def test_missing_gemma4_classes_name_the_transformers_version(monkeypatch):
    import transformers

    monkeypatch.setattr(transformers, "Gemma4UnifiedTextModel", None, raising=False)  # as in transformers < 5.10
    with pytest.raises(ImportError, match=r"Gemma 4 needs transformers >= 5\.10: the installed transformers .* has no Gemma4UnifiedTextModel"):
        load_gemma_text_model(TE)
