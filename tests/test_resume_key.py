"""The resume key identifies the weights by content: a checkpoint or LoRA replaced under the same name is another
model, and every chunk it affects is rendered again; the digests are computed once per file version."""

import hashlib
import json
import os
import shutil

import pytest
import torch
from reference import path
from safetensors.torch import load_file, save_file
from test_pipeline import SETTINGS, tiny_lora
from text_fixtures import TINY_GEMMA, save_tiny_tokenizer

from ltx2.chain.plan import make_plan
from ltx2.chain.schedule import ChunkSchedule
from ltx2.loading import digest
from ltx2.loading.checkpoint import CheckpointFile
from ltx2.pipeline.models import demo_models, load_models
from ltx2.pipeline.run import render_chain

CKPT = path("fixtures/checkpoints/tiny-ltx-2.3-22b.safetensors")


def test_a_digest_is_the_files_sha256_and_is_computed_once_per_version(tmp_path, monkeypatch):
    monkeypatch.setenv(digest.CACHE_ENV, str(tmp_path / "cache"))
    file = tmp_path / "weights.safetensors"
    file.write_bytes(b"first version" * 1000)
    assert digest.file_digest(file) == hashlib.sha256(file.read_bytes()).hexdigest()
    hashed = []
    original = digest._sha256
    monkeypatch.setattr(digest, "_sha256", lambda p: hashed.append(p) or original(p))
    digest.file_digest(file)
    assert hashed == []  # remembered
    file.write_bytes(b"other version" * 1000)  # same size, new time
    os.utime(file, ns=(1, 1))
    assert digest.file_digest(file) == hashlib.sha256(file.read_bytes()).hexdigest() and len(hashed) == 1


def test_a_checkpoint_replaced_under_its_name_is_another_model(tmp_path):
    gemma = tmp_path / "gemma"
    shutil.copytree(TINY_GEMMA, gemma)
    save_tiny_tokenizer(gemma)
    ckpt = tmp_path / "ltx-2.3-22b-distilled.safetensors"
    shutil.copy(CKPT, ckpt)
    before = json.loads(load_models(ckpt, gemma, device="cpu").name)
    state = load_file(str(ckpt))
    key = next(k for k in state if k.endswith("proj_out.weight"))
    state[key] = state[key] + 0.01
    save_file(state, str(ckpt), metadata=CheckpointFile(CKPT).metadata)
    after = json.loads(load_models(ckpt, gemma, device="cpu").name)
    assert before["checkpoint"] == after["checkpoint"] and before["sha256"][ckpt.name] != after["sha256"][ckpt.name]
    assert before["sha256"]["gemma/config.json"] == after["sha256"]["gemma/config.json"]  # a model folder: each file


def test_a_lora_replaced_under_its_name_renders_every_chunk_again(tmp_path):
    models = demo_models(seed=0)
    lora = tiny_lora(models, tmp_path / "style.safetensors")
    plan = make_plan(total_frames=41, fps=24, clip_frames=25, tail_frames=9)
    schedule = ChunkSchedule.parse({"prompt": "waves", "loras": [{"name": "style", "scale": [1.0]}]})
    models.add_lora("style", lora, 1.0)
    try:
        first = render_chain(models, SETTINGS, plan, schedule, run_dir=tmp_path / "run", return_media=True)
        again = render_chain(models, SETTINGS, plan, schedule, run_dir=tmp_path / "run", return_media=True)
        assert first.rendered == [0, 1] and again.rendered == []  # the same LoRA: resumed, nothing to render
    finally:
        models.loras.remove("style")
    state = {k: v * 2 for k, v in load_file(str(lora)).items()}
    save_file(state, str(lora))  # another LoRA under the same name
    models.add_lora("style", lora, 1.0)
    try:
        swapped = render_chain(models, SETTINGS, plan, schedule, run_dir=tmp_path / "run", return_media=True)
    finally:
        models.loras.remove("style")
    assert swapped.rendered == [0, 1]
    assert not torch.equal(swapped.output.frames, first.output.frames)


@pytest.mark.parametrize("threads", [1, 2])
def test_the_cpu_thread_count_is_part_of_the_key(threads, monkeypatch):
    from ltx2.pipeline.renderer import LTXChunkRenderer

    monkeypatch.setattr(torch, "get_num_threads", lambda: threads)
    key = json.loads(LTXChunkRenderer(demo_models(seed=0), SETTINGS).fingerprint())
    assert key["numerics"]["threads"] == threads


def test_an_attention_kernel_or_compiled_blocks_are_part_of_the_key(monkeypatch):
    from ltx2.model.compile import compile_blocks
    from ltx2.pipeline import renderer

    models = demo_models(seed=0)
    plain = json.loads(renderer.LTXChunkRenderer(models, SETTINGS).fingerprint())["numerics"]
    assert "attention" not in plain and "compiled" not in plain
    monkeypatch.setattr(renderer, "attention_backend", lambda: "flash-attn")
    compile_blocks(models.transformer)  # compiles lazily: nothing runs here
    assert json.loads(renderer.LTXChunkRenderer(models, SETTINGS).fingerprint())["numerics"] == {**plain, "attention": "flash-attn", "compiled": True}
