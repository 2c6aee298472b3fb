"""Model files for the loader nodes (listing and resolving) and the sampler's output paths, standalone."""

import importlib
import os

import pytest


@pytest.fixture
def files(pack):
    return importlib.import_module(pack.__name__ + ".nodes.model_files")


@pytest.fixture
def outputs(pack):
    return importlib.import_module(pack.__name__ + ".nodes.outputs")


def touch(path, text="x"):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.fixture
def models_root(tmp_path, monkeypatch):
    root = tmp_path / "models"
    touch(root / "checkpoints" / "ltx-2-19b-distilled.safetensors")
    touch(root / "checkpoints" / "old" / "ltx-2-19b-dev.safetensors")
    touch(root / "checkpoints" / "notes.txt")
    touch(root / "checkpoints" / "sd15.ckpt")
    touch(root / "text_encoders" / "gemma_3_12B_it.safetensors")
    touch(root / "text_encoders" / "gemma-3-12b-it" / "config.json", "{}")
    touch(root / "text_encoders" / "gemma-3-12b-it" / "model-00001-of-00002.safetensors")
    touch(root / "text_encoders" / "gemma-3-12b-it" / "tokenizer.json", "{}")
    touch(root / "text_encoders" / "gemma_tokenizer" / "tokenizer.model")
    second = tmp_path / "more"
    touch(second / "loras" / "style.safetensors")
    monkeypatch.setenv("LTX2CHAIN_MODELS", os.pathsep.join([str(root), str(second)]))
    return root


def test_lists_safetensors_recursively_from_every_root(files, models_root):
    assert files.list_models("checkpoints") == ["ltx-2-19b-distilled.safetensors", "old/ltx-2-19b-dev.safetensors"]
    assert files.list_models("loras") == ["style.safetensors"]
    assert files.list_models("latent_upscale_models") == []


def test_text_encoders_list_model_folders_as_one_entry(files, models_root):
    assert files.list_models("text_encoders", model_folders=True) == ["gemma-3-12b-it/", "gemma_3_12B_it.safetensors"]
    assert files.list_tokenizers() == ["gemma-3-12b-it/", "gemma_tokenizer/"]


def test_resolve_finds_files_and_folders(files, models_root, tmp_path):
    assert files.resolve("checkpoints", "old/ltx-2-19b-dev.safetensors") == models_root / "checkpoints/old/ltx-2-19b-dev.safetensors"
    assert files.resolve("text_encoders", "gemma-3-12b-it/") == models_root / "text_encoders/gemma-3-12b-it"
    assert files.resolve("loras", "style.safetensors") == tmp_path / "more/loras/style.safetensors"


def test_missing_file_error_names_the_folders(files, models_root):
    with pytest.raises(FileNotFoundError, match=r"checkpoints: 'ltx-2.3-22b-dev.safetensors' not found; put it in the checkpoints models folder \(looked in .*models/checkpoints, .*more/checkpoints\)"):
        files.resolve("checkpoints", "ltx-2.3-22b-dev.safetensors")
    with pytest.raises(FileNotFoundError, match="is not a name from the loras folder"):
        files.resolve("loras", "../checkpoints/ltx-2-19b-distilled.safetensors")


def test_no_models_folder_configured(files, monkeypatch):
    monkeypatch.delenv("LTX2CHAIN_MODELS", raising=False)
    assert files.list_models("checkpoints") == []
    with pytest.raises(FileNotFoundError, match="no checkpoints folder is configured \\(set LTX2CHAIN_MODELS"):
        files.resolve("checkpoints", "a.safetensors")


def test_video_targets_are_numbered_and_share_a_run_dir(outputs, tmp_path, monkeypatch):
    monkeypatch.setenv("LTX2CHAIN_OUTPUT", str(tmp_path / "out"))
    first = outputs.video_target("video/fox")
    assert first.path == tmp_path / "out/video/fox_00001_.mp4" and first.subfolder == "video"
    assert first.run_dir == tmp_path / "out/ltx2chain_runs/video/fox"
    touch(first.path)
    touch(tmp_path / "out/video/fox_00007_.mp4")
    touch(tmp_path / "out/video/foxy_00009_.mp4")
    second = outputs.video_target("video/fox")
    assert second.path.name == "fox_00008_.mp4" and second.run_dir == first.run_dir
    assert outputs.video_target("chain").subfolder == ""
    for bad in ("../escape", "/abs/path", "  "):
        with pytest.raises(ValueError, match="filename_prefix"):
            outputs.video_target(bad)
