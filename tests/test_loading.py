import pytest
import torch
from reference import checkpoint_entry, manifest, path
from torch import nn

from ltx2.loading.build import CheckpointMismatch, build_on_meta, load_into
from ltx2.loading.checkpoint import CheckpointFile, detect_architecture, parse_version


@pytest.mark.parametrize("name", ["ltx2", "ltx23"])
def test_tiny_checkpoints_read_like_the_real_files(name):
    entry = checkpoint_entry(name)
    f = CheckpointFile(path(entry["file"]))
    assert f.model_version == entry["model_version"]
    assert len(f.keys()) == entry["num_tensors"]
    assert set(f.config) >= {"transformer", "vae", "audio_vae", "vocoder"}
    assert detect_architecture(f.config) == name


@pytest.mark.parametrize("name", ["ltx25_transformer", "ltx25_video_vae", "ltx25_audio_vae"])
def test_tiny_split_files_read_like_the_real_files(name):
    entry = checkpoint_entry(name)
    f = CheckpointFile(path(entry["file"]))
    assert f.model_version == entry["model_version"] and f.version == (2, 5, 0)
    assert len(f.keys()) == entry["num_tensors"]
    assert sorted(f.config) == sorted(entry["config_sections"])
    assert f.architecture == "ltx25"


@pytest.mark.parametrize("name, arch", [("ltx-2-19b.json", "ltx2"), ("ltx-2.3-22b.json", "ltx23"), ("ltx-2.5-22b-transformer.json", "ltx25")])
def test_architecture_from_full_size_configs(name, arch):
    m = manifest(name)
    assert detect_architecture(m["config"], m.get("model_version")) == arch


def test_version_decides_2_5_and_an_unversioned_file_falls_back_to_the_config():
    config_23 = manifest("ltx-2.3-22b.json")["config"]
    config_25 = manifest("ltx-2.5-22b-transformer.json")["config"]
    assert detect_architecture(config_23, "2.3.0") == "ltx23"
    assert detect_architecture(config_23, "2.5.0") == "ltx25"
    assert detect_architecture(config_23, "3.0") == "ltx25"
    assert detect_architecture(config_25) == "ltx25"  # no model_version: the keyframes embedding tells
    assert detect_architecture(config_25, "2.4.9") == "ltx23"


def test_model_version_parsing_stops_at_the_first_part_that_is_no_number():
    assert parse_version("2.5.0") == (2, 5, 0)
    assert parse_version("2-5-1") == (2, 5, 1)
    assert parse_version("2.5.0rc1") == (2, 5)
    assert parse_version("v2.5") == ()
    assert parse_version(None) == ()
    assert parse_version("2.10") > parse_version("2.5")


def test_strict_loading_names_the_mismatch():
    state = {"0.weight": torch.ones(3, 2), "0.bias": torch.zeros(3), "9.extra": torch.zeros(1)}
    with pytest.raises(CheckpointMismatch, match=r"unexpected 1 key\(s\): 9.extra"):
        load_into(build_on_meta(lambda: nn.Sequential(nn.Linear(2, 3))), state)
    with pytest.raises(CheckpointMismatch, match=r"wrong shape: 0.weight file \[3, 3\] vs model \[3, 2\]"):
        load_into(build_on_meta(lambda: nn.Sequential(nn.Linear(2, 3))), {"0.weight": torch.ones(3, 3), "0.bias": torch.zeros(3)})
    with pytest.raises(CheckpointMismatch, match=r"missing 1 key\(s\): 0.bias"):
        load_into(build_on_meta(lambda: nn.Sequential(nn.Linear(2, 3))), {"0.weight": torch.ones(3, 2)})
    del state["9.extra"]
    module = load_into(build_on_meta(lambda: nn.Sequential(nn.Linear(2, 3))), state, dtype=torch.float64)
    assert module[0].weight.dtype == torch.float64 and not module[0].weight.is_meta
    assert torch.equal(module(torch.ones(1, 2, dtype=torch.float64)), torch.full((1, 3), 2.0, dtype=torch.float64))
