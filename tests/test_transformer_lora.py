"""LoRA on the DiT: fused vs runtime-scaled, scale changes without reloading, several LoRAs, ignored pairs."""

import logging

import pytest
import torch
from parity_transformer_forward import inputs
from reference import Case, cases, path

from ltx2.loading.checkpoint import CheckpointFile
from ltx2.loading.lora import RuntimeLoras, fuse_lora, read_lora
from ltx2.loading.transformer import load_transformer

ENTRY = next(e for e in cases() if e["case"] == "ltx23/transformer_forward_lora")


@pytest.fixture(scope="module")
def case():
    return Case(ENTRY)


@pytest.fixture(scope="module")
def pairs(case):
    return read_lora(path(case.args["lora_file"]))


def fresh_model(case):
    return load_transformer(CheckpointFile(case.checkpoint), dtype=torch.float32)


@torch.no_grad()
def forward(model, case):
    i = case.inputs
    return model(*inputs(case, i["video_positions"], i["audio_positions"]))


_fused_outputs: dict[float, tuple] = {}


def fused_output(case, pairs, strength):
    """Outputs of a model with the LoRA fused at ``strength`` (one model per strength for the module)."""
    if strength not in _fused_outputs:
        model = fresh_model(case)
        fuse_lora(model, pairs, strength)
        _fused_outputs[strength] = forward(model, case)
    return _fused_outputs[strength]


def assert_close(a, b, **kw):
    for x, y in zip(a, b):
        torch.testing.assert_close(x, y, **kw)


def rel(a, b):
    return max(float((x - y).norm() / y.norm()) for x, y in zip(a, b))


def test_fused_equals_runtime_at_same_scale(case, pairs):
    model = fresh_model(case)
    RuntimeLoras(model).add("lora", pairs, scale=0.8)
    assert_close(forward(model, case), fused_output(case, pairs, 0.8), rtol=1e-5, atol=1e-5)


def test_scale_changes_between_calls_without_touching_weights(case, pairs):
    model = fresh_model(case)
    weights = {k: v.clone() for k, v in model.state_dict().items()}
    loras = RuntimeLoras(model)
    loras.add("lora", pairs, scale=0.8)
    at_08 = forward(model, case)
    loras.set_scale("lora", 0.3)
    at_03 = forward(model, case)
    assert rel(at_03, at_08) > 1e-2
    assert_close(at_03, fused_output(case, pairs, 0.3), rtol=1e-5, atol=1e-5)
    loras.set_scale("lora", 0.8)
    assert_close(forward(model, case), at_08, rtol=0, atol=0)
    assert all(torch.equal(v, weights[k]) for k, v in model.state_dict().items())


def test_scale_zero_and_removal_equal_no_lora(case, pairs):
    model = fresh_model(case)
    base = forward(model, case)
    loras = RuntimeLoras(model)
    loras.add("lora", pairs, scale=0.0)
    assert_close(forward(model, case), base, rtol=0, atol=0)
    loras.set_scale("lora", 1.0)
    assert rel(forward(model, case), base) > 1e-2
    loras.remove("lora")
    assert_close(forward(model, case), base, rtol=0, atol=0)


def test_several_loras_add_up(case, pairs):
    model = fresh_model(case)
    loras = RuntimeLoras(model)
    loras.add("a", pairs, scale=0.5)
    loras.add("b", {k: type(p)(p.down * 2, p.up) for k, p in pairs.items()}, scale=0.15)
    assert_close(forward(model, case), fused_output(case, pairs, 0.8), rtol=1e-5, atol=1e-5)  # 0.5 + 2 * 0.15
    loras.remove("a")
    assert_close(forward(model, case), fused_output(case, pairs, 0.3), rtol=1e-5, atol=1e-5)


def test_pairs_without_target_are_ignored_with_a_warning(case, pairs, caplog):
    ignored = case.args["ignored_pairs"]
    assert set(ignored) <= set(pairs)
    model = fresh_model(case)
    with caplog.at_level(logging.WARNING, logger="ltx2.loading.lora"):
        assert fuse_lora(model, pairs, 1.0) == len(pairs) - len(ignored)
    assert all(name in caplog.text for name in ignored)


def test_wrong_shape_is_an_error(case, pairs):
    model = fresh_model(case)
    path0, pair = next(iter(pairs.items()))
    bad = {path0: type(pair)(pair.down, pair.up.T.contiguous())} if pair.up.shape[0] != pair.up.shape[1] else {path0: type(pair)(pair.down[:, :-1], pair.up)}
    with pytest.raises(ValueError, match=path0):
        fuse_lora(model, bad, 1.0)
