"""Model files that are not what they should be: each one a CheckpointMismatch naming the file and the fix, never a
raw MemoryError / KeyError / JSONDecodeError / SafetensorError, and never a read the header alone could not bound."""

import json
import pickle
import struct
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from safetensors.torch import save_file

from ltx2.loading.build import CheckpointMismatch
from ltx2.loading.checkpoint import CheckpointFile, MissingFile, read_header
from ltx2.loading.gemma import load_gemma_text_model
from ltx2.loading.lora import lora_architecture, read_lora

CHECKPOINTS = Path(__file__).resolve().parent / "fixtures" / "reference" / "fixtures" / "checkpoints"
LTX = CHECKPOINTS / "tiny-ltx-2.3-22b.safetensors"
LORA = CHECKPOINTS / "tiny-ltx-2-19b-lora-r4.safetensors"
SMALL = CHECKPOINTS / "tiny-ltx-2-temporal-upscaler-x2-1.0.safetensors"  # the smallest valid file, for truncations


def safetensors_bytes(header: dict, data: bytes = b"") -> bytes:
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw)) + raw + data


def open_as_checkpoint(path: Path) -> None:
    """What a render does to a checkpoint: open it, ask for the transformer, read every tensor."""
    ckpt = CheckpointFile(path)
    ckpt.require("transformer")
    for key in ckpt.keys():
        ckpt.read(key)


def write(content):
    def make(folder: Path) -> Path:
        path = folder / "model.safetensors"
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            content(path)
        return path

    return make


def truncated(length: int):
    return write(LTX.read_bytes()[:length])


def foreign(path: Path) -> None:
    save_file(
        {"encoder.layer.0.weight": torch.zeros(2, 2)},
        str(path),
        metadata={"format": "pt"},
    )


def garbage_config(path: Path) -> None:
    save_file(
        {"model.diffusion_model.patchify_proj.weight": torch.zeros(2)},
        str(path),
        metadata={"config": "{'transformer': oops"},
    )


PATCHIFY, CONFIG = (
    "model.diffusion_model.patchify_proj.weight",
    json.dumps({"transformer": {}}),
)
TINY = {"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}
LTX_HEADER_LENGTH = struct.unpack("<Q", LTX.read_bytes()[:8])[0]

BAD_CHECKPOINTS = {
    "text": (
        write(b"hello, this is a README\n" * 4),
        r"model\.safetensors: not a \.safetensors file \(looks like text",
    ),
    "html": (
        write(b"<!DOCTYPE html>\n<html><head><title>Sign in</title></head></html>"),
        r"not a \.safetensors file \(looks like an HTML page .*download the file itself",
    ),
    "lfs pointer": (
        write(b"version https://git-lfs.github.com/spec/v1\noid sha256:0123\nsize 42\n"),
        r"not a \.safetensors file \(looks like a Git LFS pointer.*git lfs pull",
    ),
    "pickle": (
        write(pickle.dumps({"state_dict": [1, 2, 3]}, protocol=2)),
        r"not a \.safetensors file \(looks like a pickle \(PyTorch \.pt/\.bin/\.ckpt\)",
    ),
    "torch zip": (
        lambda d: (
            torch.save({"w": torch.zeros(2)}, d / "model.safetensors"),
            d / "model.safetensors",
        )[1],
        r"looks like a pickle \(PyTorch",
    ),
    "empty": (write(b""), r"model\.safetensors: is empty \(0 bytes\)"),
    "cut at 3 bytes": (truncated(3), r"not a \.safetensors file \(only 3 bytes"),
    "cut at 8 bytes": (
        truncated(8),
        r"model\.safetensors: truncated: the file is 8 bytes, but its header describes",
    ),
    "cut in the header": (
        truncated(LTX_HEADER_LENGTH // 2),
        r"truncated: .*incomplete download",
    ),
    "cut in the data": (
        truncated(LTX_HEADER_LENGTH + 5000),
        r"truncated: the file is \d+ bytes, but its header describes \d+",
    ),
    "cut one byte short": (truncated(LTX.stat().st_size - 1), r"truncated: "),
    "header not json": (
        write(struct.pack("<Q", 6) + b"{oops}"),
        r"not a \.safetensors file \(its header is not valid JSON",
    ),
    "header a list": (
        write(struct.pack("<Q", 2) + b"[]"),
        r"not a \.safetensors file \(its first bytes are no safetensors header",
    ),
    "offsets past the end": (
        write(safetensors_bytes({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, b"\0" * 4)),
        r"truncated: ",
    ),
    "wrong byte count": (
        write(safetensors_bytes({"a": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}}, b"\0" * 8)),
        r"tensor a \(F32 \[3\]\) needs 12 bytes, but its header gives it 8",
    ),
    "overlapping": (
        write(
            safetensors_bytes(
                {**TINY, "b": {"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}},
                b"\0" * 12,
            )
        ),
        r"tensors a and b overlap",
    ),
    "entry not a tensor": (
        write(safetensors_bytes({"a": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 0]}})),
        r"entry for 'a' is not a tensor",
    ),
    "metadata not strings": (
        write(safetensors_bytes({"__metadata__": {"config": {"x": 1}}})),
        r"__metadata__ is not a map of strings",
    ),
    "garbage config": (
        write(garbage_config),
        r"model\.safetensors: its config metadata is not valid JSON",
    ),
    "config not an object": (
        write(safetensors_bytes({"__metadata__": {"config": "[1]"}, **TINY}, b"\0" * 8)),
        r"its config metadata is not a JSON object:",
    ),
    "config section not an object": (
        write(safetensors_bytes({"__metadata__": {"config": '{"transformer": 5}'}, **TINY}, b"\0" * 8)),
        r"its config metadata is not a JSON object of sections \('transformer' is not an object\)",
    ),
    "unknown dtype": (
        write(
            safetensors_bytes(
                {
                    PATCHIFY: {"dtype": "Q4", "shape": [2], "data_offsets": [0, 1]},
                    "__metadata__": {"config": CONFIG},
                },
                b"\0",
            )
        ),
        r"patchify_proj\.weight is stored as .Q4., which this loader cannot read",
    ),
    "a folder": (lambda d: d, r"is a folder, not a \.safetensors file"),
    "a missing path": (
        lambda d: d / "absent.safetensors",
        r"absent\.safetensors: no such file",
    ),
    "a LoRA": (
        lambda d: LORA,
        r"tiny-ltx-2-19b-lora-r4\.safetensors is a LoRA, not an LTX-2 checkpoint \(no transformer\)",
    ),
    "another model": (
        write(foreign),
        r"model\.safetensors is another model's file, not an LTX-2 checkpoint",
    ),
    "an upsampler": (
        lambda d: SMALL,
        r"upscaler-x2-1\.0\.safetensors is a latent upsampler, not an LTX-2 checkpoint",
    ),
}


@pytest.mark.parametrize("make, message", BAD_CHECKPOINTS.values(), ids=BAD_CHECKPOINTS.keys())
def test_a_bad_checkpoint_is_one_named_error(tmp_path, make, message):
    with pytest.raises(CheckpointMismatch, match=message):
        open_as_checkpoint(make(tmp_path))


def test_a_missing_file_is_also_a_file_not_found_error(tmp_path):
    with pytest.raises(MissingFile) as error:
        read_header(tmp_path / "gone.safetensors")
    assert isinstance(error.value, FileNotFoundError) and isinstance(error.value, ValueError)


def test_a_valid_checkpoint_still_reads_as_safetensors_does():
    from safetensors.torch import load_file

    ckpt, expected = CheckpointFile(LTX), load_file(str(LTX))
    assert set(ckpt.keys()) == set(expected)
    assert all(torch.equal(ckpt.read(k), expected[k]) for k in expected)
    assert ckpt.require("transformer") and ckpt.architecture == "ltx23"


BAD_LORAS = {
    "checkpoint as LoRA": (
        lambda d: LTX,
        r"tiny-ltx-2\.3-22b\.safetensors: no LoRA pairs .*it is an LTX-2 checkpoint, not an LTX-2 LoRA",
    ),
    "foreign without pairs": (
        write(foreign),
        r"no LoRA pairs .*it is another model's file, not an LTX-2 LoRA",
    ),
    "another LoRA layout": (
        write(
            lambda p: save_file(
                {
                    "lora_unet_x.lora_down.weight": torch.zeros(1, 2),
                    "lora_unet_x.lora_up.weight": torch.zeros(2, 1),
                },
                str(p),
            )
        ),
        r"no LoRA pairs .*it is a LoRA of another layout",
    ),
    "A without B": (
        write(lambda p: save_file({"diffusion_model.x.lora_A.weight": torch.zeros(1, 2)}, str(p))),
        r"diffusion_model\.x\.lora_B\.weight is missing",
    ),
    "B without A": (
        write(
            lambda p: save_file(
                {
                    "diffusion_model.x.lora_A.weight": torch.zeros(1, 2),
                    "diffusion_model.x.lora_B.weight": torch.zeros(2, 1),
                    "diffusion_model.y.lora_B.weight": torch.zeros(2, 1),
                },
                str(p),
            )
        ),
        r"diffusion_model\.y\.lora_B\.weight has no lora_A",
    ),
    "html": (
        write(b"<html><body>404</body></html>"),
        r"not a \.safetensors file \(looks like an HTML page",
    ),
    "missing": (lambda d: d / "nope.safetensors", r"nope\.safetensors: no such file"),
}


@pytest.mark.parametrize("make, message", BAD_LORAS.values(), ids=BAD_LORAS.keys())
def test_a_bad_lora_is_one_named_error(tmp_path, make, message):
    path = make(tmp_path)
    with pytest.raises(CheckpointMismatch, match=message):
        lora_architecture(path)
        read_lora(path)


def test_a_lora_reads_its_pairs():
    pairs = read_lora(LORA)
    assert pairs and all(p.down.shape[0] == p.up.shape[1] for p in pairs.values())


@pytest.mark.parametrize(
    "given",
    [
        LTX,
        CHECKPOINTS / "ltx-2.5" / "diffusion_models" / "tiny-ltx-2.5-22b-transformer.safetensors",
    ],
    ids=["ltx-2.3", "ltx-2.5"],
)
def test_the_ltx_checkpoint_as_gemma_says_so(given):
    with pytest.raises(
        CheckpointMismatch,
        match=rf"{given.name}: not a Gemma text encoder \(it is an LTX-2 checkpoint: .*give the Gemma model folder",
    ):
        load_gemma_text_model(given)


def test_a_gemma_folder_with_broken_json_is_named(tmp_path):
    (tmp_path / "config.json").write_text("{broken")
    with pytest.raises(CheckpointMismatch, match=r"config\.json: not valid JSON"):
        load_gemma_text_model(tmp_path)


# Fuzzing: whatever the bytes, CheckpointFile and reading every tensor end in the file's tensors or one CheckpointMismatch.

FUZZ = settings(
    max_examples=150,
    deadline=2000,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
SMALL_BYTES = SMALL.read_bytes()


def survives(path: Path, content: bytes) -> None:
    path.write_bytes(content)
    try:
        ckpt = CheckpointFile(path)
        ckpt.config, ckpt.architecture, ckpt.version  # noqa: B018  (parsed metadata)
        for key in ckpt.keys():
            assert ckpt.read(key).numel() == torch.Size(ckpt.shapes[key]).numel()
    except CheckpointMismatch as error:
        assert str(path) in str(error) or path.name in str(error)


@FUZZ
@given(st.binary(max_size=2048))
def test_fuzz_random_bytes(tmp_path, content):
    survives(tmp_path / "fuzz.safetensors", content)


@FUZZ
@given(st.integers(min_value=0, max_value=2**64 - 1), st.binary(max_size=256))
def test_fuzz_random_header_length(tmp_path, length, rest):
    survives(tmp_path / "fuzz.safetensors", struct.pack("<Q", length) + b"{" + rest)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70) | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)
ENTRY = st.fixed_dictionaries(
    {"dtype": st.sampled_from(["F32", "F16", "BF16", "I64", "U8", "BOOL", "F8_E4M3", "Q4", ""]) | JSON,
     "shape": st.lists(st.integers(min_value=-2, max_value=2**40), max_size=3) | JSON,
     "data_offsets": st.lists(st.integers(min_value=-4, max_value=2**66), min_size=2, max_size=2) | JSON}
)  # fmt: skip
HEADER = st.dictionaries(
    st.text(max_size=8) | st.just("__metadata__"),
    ENTRY
    | JSON
    | st.dictionaries(
        st.sampled_from(["config", "model_version"]),
        st.text(max_size=40) | st.just('{"transformer": {}, "vocoder": 3}'),
    ),
    max_size=5,
)


@FUZZ
@given(HEADER, st.integers(min_value=0, max_value=64))
def test_fuzz_random_json_headers(tmp_path, header, data_bytes):
    survives(tmp_path / "fuzz.safetensors", safetensors_bytes(header, b"\x01" * data_bytes))


@FUZZ
@given(st.integers(min_value=0, max_value=len(SMALL_BYTES)))
def test_fuzz_truncations_of_a_valid_file(tmp_path, length):
    survives(tmp_path / "fuzz.safetensors", SMALL_BYTES[:length])


@pytest.mark.parametrize(
    "length",
    sorted(
        {
            0,
            1,
            7,
            8,
            9,
            100,
            8 + struct.unpack("<Q", SMALL_BYTES[:8])[0],
            len(SMALL_BYTES) // 2,
            len(SMALL_BYTES) - 1,
        }
    ),
)
def test_every_length_class_of_a_truncated_file_is_named(tmp_path, length):
    """Empty, inside the length field, at its end, inside the header, at the header's end, inside the data."""
    path = tmp_path / "cut.safetensors"
    path.write_bytes(SMALL_BYTES[:length])
    with pytest.raises(
        CheckpointMismatch,
        match=r"cut\.safetensors: (is empty|not a \.safetensors file \(only|truncated: )",
    ):
        open_as_checkpoint(path)
