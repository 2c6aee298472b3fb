"""Loading Gemma 3 from a model folder and from a ComfyUI-style single file; tokenizers; clear errors."""

import json
import shutil
import sys

import pytest
import torch
from reference import path
from safetensors.torch import save_file
from text_fixtures import (
    TINY_GEMMA,
    save_tiny_tokenizer,
    tiny_gemma_state,
    tiny_text_config,
    tiny_tokenizer,
)

from ltx2.loading.build import CheckpointMismatch, build_on_meta
from ltx2.loading.checkpoint import CheckpointFile
from ltx2.loading.gemma import (
    GEMMA3_12B_TEXT_CONFIG,
    load_gemma_text_model,
    load_gemma_tokenizer,
)
from ltx2.loading.text_encoder import load_text_encoder
from ltx2.text.gemma import GemmaEncoder

LTX23 = path("fixtures/checkpoints/tiny-ltx-2.3-22b.safetensors")
IDS = torch.tensor([[0, 0, 0, 2, 17, 99, 4, 250, 31, 8]])
MASK = torch.tensor([[0, 0, 0, 1, 1, 1, 1, 1, 1, 1]])


def comfy_single_file(target, text_state, *, spiece: bytes | None = b"\x0a\x03abc"):
    """The key layout of ComfyUI's gemma_3_12B_it*.safetensors: text model under ``model.``, the vision tower under
    ``vision_model.``, the projector under ``multi_modal_projector.``, and the SentencePiece model as bytes."""
    tensors = {"model." + k: v.contiguous() for k, v in text_state.items()}
    tensors["vision_model.embeddings.patch_embedding.weight"] = torch.zeros(16, 3, 14, 14)
    tensors["multi_modal_projector.mm_input_projection_weight"] = torch.zeros(16, 32)
    if spiece is not None:
        tensors["spiece_model"] = torch.tensor(list(spiece), dtype=torch.uint8)
    save_file(tensors, str(target))
    return target


def hidden(model):
    return GemmaEncoder(model).hidden_states(IDS, MASK)


@pytest.fixture(scope="module")
def folder_model():
    return load_gemma_text_model(TINY_GEMMA, dtype=torch.float32)


def test_single_file_equals_folder(tmp_path, folder_model):
    single = comfy_single_file(tmp_path / "gemma_3_tiny.safetensors", tiny_gemma_state())
    model = load_gemma_text_model(single, text_config=tiny_text_config(), dtype=torch.float32)
    ours, theirs = model.state_dict(), folder_model.state_dict()
    assert ours.keys() == theirs.keys() and all(torch.equal(ours[k], theirs[k]) for k in ours)
    assert torch.equal(hidden(model), hidden(folder_model))


def test_bf16_load_keeps_rope_tables_in_float32(tmp_path):
    model = load_gemma_text_model(TINY_GEMMA, dtype=torch.bfloat16)
    assert model.embed_tokens.weight.dtype == torch.bfloat16
    assert all(b.dtype == torch.float32 and not b.is_meta for _, b in model.named_buffers())
    assert hidden(model).dtype == torch.bfloat16


def test_fp8_scaled_single_file_is_dequantised(tmp_path, folder_model):
    state = tiny_gemma_state()
    stored, expected = {}, {}
    for i, (name, w) in enumerate(sorted(state.items())):
        if w.dim() == 2 and name.startswith("layers."):
            base = name.removesuffix(".weight")
            scale = w.abs().amax() / 448.0
            q = (w / scale).to(torch.float8_e4m3fn)
            stored[name] = q
            # both spellings ComfyUI files use, the per-layer layout note, and an activation scale
            stored[base + (".weight_scale" if i % 2 else ".scale_weight")] = scale.reshape(())
            stored[base + ".input_scale"] = torch.tensor(1.0)
            stored[base + ".comfy_quant"] = torch.tensor(list(json.dumps({"format": "float8_e4m3fn"}).encode()), dtype=torch.uint8)
            expected[name] = q.to(torch.float32) * scale
        else:
            stored[name] = w
            expected[name] = w
    single = comfy_single_file(tmp_path / "gemma_3_tiny_fp8_scaled.safetensors", stored)
    model = load_gemma_text_model(single, text_config=tiny_text_config(), dtype=torch.float32, weights="full")
    loaded = model.state_dict()
    assert loaded.keys() == expected.keys() and all(torch.equal(loaded[k], expected[k]) for k in loaded)
    ref = hidden(folder_model)
    valid = (MASK == 1)[:, :, None, None].expand_as(ref)
    err = (hidden(model) - ref)[valid].norm() / ref[valid].norm()
    assert 0 < err < 0.1  # fp8 rounding, not a wrong scale

    # by default the fp8 layers stay fp8 in memory, and compute exactly what the dequantised model computes
    kept = load_gemma_text_model(single, text_config=tiny_text_config(), dtype=torch.float32)
    fp8_names = [n for n in stored if stored[n].dtype == torch.float8_e4m3fn]
    kept_state = kept.state_dict()
    assert fp8_names and all(kept_state[n].dtype == torch.float8_e4m3fn for n in fp8_names)
    assert sum(t.nbytes for t in kept_state.values()) < sum(t.nbytes for t in loaded.values())
    assert torch.equal(hidden(kept), hidden(model))


@pytest.mark.parametrize("layout", ["nvfp4", "uint8"])
def test_unsupported_quantisation_names_the_file(tmp_path, layout):
    state = tiny_gemma_state()
    name = "layers.0.mlp.up_proj.weight"
    if layout == "nvfp4":
        state["layers.0.mlp.up_proj.comfy_quant"] = torch.tensor(list(b'{"format": "nvfp4"}'), dtype=torch.uint8)
    else:
        state[name] = torch.zeros(state[name].shape[0], state[name].shape[1] // 2, dtype=torch.uint8)
    single = comfy_single_file(tmp_path / "gemma_3_tiny_fp4_mixed.safetensors", state)
    with pytest.raises(CheckpointMismatch, match=r"gemma_3_tiny_fp4_mixed\.safetensors.*not supported"):
        load_gemma_text_model(single, text_config=tiny_text_config())


def test_single_file_defaults_to_gemma3_12b_and_says_when_it_is_not(tmp_path):
    single = comfy_single_file(tmp_path / "gemma_tiny.safetensors", tiny_gemma_state())
    with pytest.raises(CheckpointMismatch, match=r"gemma_tiny\.safetensors: 3 layers .* expects 48 layers .*\[262208, 3840\]"):
        load_gemma_text_model(single)


def test_bundled_gemma3_12b_config_builds_the_real_text_model():
    from transformers import Gemma3TextConfig, Gemma3TextModel

    config = Gemma3TextConfig(**GEMMA3_12B_TEXT_CONFIG)
    shapes = {k: tuple(v.shape) for k, v in build_on_meta(lambda: Gemma3TextModel(config)).state_dict().items()}
    assert len(shapes) == 2 + 48 * 13
    assert shapes["embed_tokens.weight"] == (262208, 3840) and shapes["norm.weight"] == (3840,)
    assert shapes["layers.47.self_attn.q_proj.weight"] == (16 * 256, 3840)
    assert shapes["layers.47.self_attn.k_proj.weight"] == shapes["layers.47.self_attn.v_proj.weight"] == (8 * 256, 3840)
    assert shapes["layers.47.self_attn.q_norm.weight"] == (256,)
    assert shapes["layers.0.mlp.gate_proj.weight"] == (15360, 3840) and shapes["layers.0.mlp.down_proj.weight"] == (3840, 15360)
    assert [i for i, t in enumerate(config.layer_types) if t == "full_attention"] == [5, 11, 17, 23, 29, 35, 41, 47]
    rope = config.rope_parameters
    assert rope["full_attention"]["rope_type"] == "linear" and rope["full_attention"]["factor"] == 8.0
    assert rope["full_attention"]["rope_theta"] == 1e6 and rope["sliding_attention"]["rope_theta"] == 1e4
    assert (config.sliding_window, config.query_pre_attn_scalar, config.rms_norm_eps) == (1024, 256, 1e-6)


def test_wrong_files_are_named(tmp_path):
    with pytest.raises(CheckpointMismatch, match=r"tiny-ltx-2\.3-22b\.safetensors: not a Gemma text encoder"):
        load_gemma_text_model(LTX23)
    with pytest.raises(FileNotFoundError, match=r"nothing_here\.safetensors"):
        load_gemma_text_model(tmp_path / "nothing_here.safetensors")
    (tmp_path / "notes.txt").write_text("hi")
    with pytest.raises(ValueError, match=r"notes\.txt is not a Gemma model folder or a \.safetensors file"):
        load_gemma_text_model(tmp_path / "notes.txt")
    with pytest.raises(FileNotFoundError, match=r"has no config\.json"):
        load_gemma_text_model(tmp_path)


def test_missing_tokenizer_names_what_and_where(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"no Gemma tokenizer in .*tiny-gemma3: put tokenizer\.json"):
        load_gemma_tokenizer(TINY_GEMMA)
    bare = comfy_single_file(tmp_path / "gemma_3_bare.safetensors", tiny_gemma_state(), spiece=None)
    with pytest.raises(FileNotFoundError, match=r"gemma_3_bare\.safetensors carries no tokenizer: give a tokenizer path"):
        load_gemma_tokenizer(bare)
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match=r"no Gemma tokenizer in .*empty: expected tokenizer\.json or tokenizer\.model"):
        load_gemma_tokenizer(bare, tokenizer=tmp_path / "empty")
    with pytest.raises(FileNotFoundError, match=r"Gemma tokenizer not found: .*missing\.json"):
        load_gemma_tokenizer(bare, tokenizer=tmp_path / "missing.json")


def tiny_sentencepiece(folder) -> bytes:
    """A real SentencePiece model with Gemma's special ids (pad 0, eos 1, bos 2), trained on a few sentences."""
    import sentencepiece

    corpus = folder / "corpus.txt"
    corpus.write_text("a cat sat on the mat\nthe fox runs in the snow\na dog sleeps by the fire\n" * 20)
    prefix = folder / "sp"
    sentencepiece.SentencePieceTrainer.train(
        input=str(corpus), model_prefix=str(prefix), vocab_size=40, model_type="bpe",
        pad_id=0, eos_id=1, bos_id=2, unk_id=3, pad_piece="<pad>", eos_piece="<eos>", bos_piece="<bos>", unk_piece="<unk>",
        add_dummy_prefix=False, minloglevel=2,
    )  # fmt: skip
    return (folder / "sp.model").read_bytes()


def test_embedded_sentencepiece_tokenizer(tmp_path):
    model = tiny_sentencepiece(tmp_path)
    single = comfy_single_file(tmp_path / "gemma_3_12B_it.safetensors", tiny_gemma_state(), spiece=model)
    tokenizer = load_gemma_tokenizer(single)
    import sentencepiece

    reference = sentencepiece.SentencePieceProcessor(model_proto=model)
    assert tokenizer("the fox runs", add_special_tokens=False)["input_ids"] == reference.encode("the fox runs")
    assert (tokenizer.pad_token_id, tokenizer.bos_token_id) == (0, 2)


def test_embedded_sentencepiece_without_the_package_says_so(tmp_path, monkeypatch):
    single = comfy_single_file(tmp_path / "gemma_3_12B_it.safetensors", tiny_gemma_state())
    monkeypatch.setitem(sys.modules, "sentencepiece", None)  # as on a machine without the package
    with pytest.raises(FileNotFoundError, match=r"gemma_3_12B_it\.safetensors embeds only a SentencePiece tokenizer .*'sentencepiece'"):
        load_gemma_tokenizer(single)


def test_explicit_tokenizer_for_a_single_file(tmp_path):
    tok_dir = save_tiny_tokenizer(tmp_path / "tok")
    single = comfy_single_file(tmp_path / "gemma_3_tiny.safetensors", tiny_gemma_state(), spiece=None)
    text = "a cat sat on the mat"
    wanted = tiny_tokenizer(True)(text, add_special_tokens=False)["input_ids"]
    for source in (tok_dir, tok_dir / "tokenizer.json"):
        tok = load_gemma_tokenizer(single, tokenizer=source)
        assert (tok.bos_token_id, tok.pad_token_id) == (2, 0)
        assert tok(text, add_special_tokens=False)["input_ids"] == wanted


def test_text_encoder_from_a_folder_with_its_tokenizer(tmp_path, folder_model):
    folder = tmp_path / "gemma-3-tiny"
    shutil.copytree(TINY_GEMMA, folder)
    save_tiny_tokenizer(folder)
    encoder = load_text_encoder(CheckpointFile(LTX23), folder, dtype=torch.float32, max_length=10)
    ids, mask = encoder.gemma.tokenize(["a cat sat"])
    assert ids[0, -int(mask.sum())] == 2
    out = encoder.encode(["a cat sat"])
    assert out.stage == "features" and out.video.shape == (1, 10, 64) and out.audio.shape == (1, 10, 32)
    expected = GemmaEncoder(folder_model).hidden_states(ids, mask)
    assert torch.equal(encoder.gemma.hidden_states(ids, mask), expected)
