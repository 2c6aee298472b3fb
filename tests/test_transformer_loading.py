"""Loading the DiT: an fp8 copy of the tiny checkpoint (official fp8 layout) against the bf16 original."""

import re

import pytest
import torch
from parity_transformer_forward import inputs, positions
from reference import Case, cases
from safetensors.torch import save_file

from ltx2.loading.checkpoint import CheckpointFile
from ltx2.loading.transformer import load_text_connectors, load_transformer

# Only the block Linears are fp8 in the official files.
FP8_LINEAR = re.compile(r"^model\.diffusion_model\.transformer_blocks\.\d+\.\w+\.(to_[qkv]|to_out\.0|ff\.net\.0\.proj|ff\.net\.2)\.weight$")
FP8_MAX = torch.finfo(torch.float8_e4m3fn).max


def write_fp8_copy(source: CheckpointFile, target) -> int:
    """Per-tensor fp8 quantisation of the block Linears with ``weight_scale`` / ``input_scale`` siblings."""
    state, quantised = source.tensors(strip=False), 0
    for key in [k for k in state if FP8_LINEAR.match(k)]:
        w = state[key].float()
        scale = w.abs().max() / FP8_MAX
        state[key] = (w / scale).to(torch.float8_e4m3fn)
        state[key + "_scale"] = scale.reshape(())
        state[key[: -len("weight")] + "input_scale"] = torch.tensor(1.0)
        quantised += 1
    save_file(state, str(target), metadata=source.metadata)
    return quantised


@pytest.mark.parametrize("arch", ["ltx2", "ltx23"])
def test_fp8_checkpoint_matches_bf16(arch, tmp_path):
    case = Case(next(e for e in cases() if e["case"] == f"{arch}/transformer_forward"))
    original = CheckpointFile(case.checkpoint)
    fp8_path = tmp_path / "fp8.safetensors"
    assert write_fp8_copy(original, fp8_path) > 0
    fp8 = CheckpointFile(fp8_path)
    assert "F8_E4M3" in fp8.dtypes.values()
    models = [load_transformer(c, dtype=torch.float32) for c in (original, fp8)]
    with torch.no_grad():
        (v0, a0), (v1, a1) = [m(*inputs(case, *positions(case))) for m in models]
    # e4m3 keeps 3 mantissa bits, so each weight moves by <= 1/16 of its tensor's max; the velocities
    # move by 2.1-2.5 % here (measured). 8 % leaves room; an unapplied scale (weights ~100x too large)
    # is off by orders of magnitude.
    for out, ref in ((v1, v0), (a1, a0)):
        assert float((out - ref).norm() / ref.norm()) < 0.08
    w0 = models[0].transformer_blocks[0].attn1.to_q.weight.detach()
    w1 = models[1].transformer_blocks[0].attn1.to_q.compute_weight(torch.float32)
    assert float((w1 - w0).abs().max()) <= float(w0.abs().max()) / 16 and not torch.equal(w0, w1)
    # the connectors of an fp8 file are untouched bf16 and load as usual
    load_text_connectors(fp8, dtype=torch.float32)


def test_missing_scale_is_an_error(tmp_path):
    original = CheckpointFile(Case(next(e for e in cases() if e["case"] == "ltx2/transformer_forward")).checkpoint)
    state = original.tensors(strip=False)
    key = next(k for k in state if FP8_LINEAR.match(k))
    state[key] = state[key].to(torch.float8_e4m3fn)
    save_file(state, str(tmp_path / "bad.safetensors"), metadata=original.metadata)
    with pytest.raises(ValueError, match="weight_scale"):
        load_transformer(CheckpointFile(tmp_path / "bad.safetensors"))


def test_connector_keys_are_not_loaded_into_the_dit():
    ckpt = CheckpointFile(Case(next(e for e in cases() if e["case"] == "ltx23/transformer_forward")).checkpoint)
    model = load_transformer(ckpt)
    assert not any("embeddings_connector" in k for k in model.state_dict())
    assert model.dtype == torch.bfloat16
