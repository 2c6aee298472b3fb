"""The speed options outside the DiT: the loaders' ``compile`` and ``attention`` inputs reach the run and its resume
key (a backend that cannot run is refused before anything loads), and the renderer batches a step's guidance passes
and keeps the text keys/values across steps only when the memory planner says that fits what the GPU has free."""

import gc
import importlib
import json
import logging
import weakref

import pytest
import torch
from test_sampler_node import node
from test_speed import fake_kernel_module

from ltx2.chain.plan import make_plan
from ltx2.chain.schedule import ChunkSchedule
from ltx2.model.transformer import text_cache_bytes
from ltx2.pipeline import renderer
from ltx2.pipeline.models import LTXModels, demo_models
from ltx2.pipeline.run import render_chain
from ltx2.pipeline.settings import RenderSettings, full_schedule

LOADER = {"checkpoint": "ltx-2-19b-distilled.safetensors", "text_encoder": "gemma_3_12B_it.safetensors", "tokenizer": "auto", "dtype": "fp32",
          "device": "default", "distilled_lora": "none", "distilled_lora_strength": 1.0, "spatial_upsampler": "none"}  # fmt: skip


def pack_module(pack, name: str):
    return importlib.import_module(f"{pack.__name__}.{name}")


def place_as_on_a_gpu(pack, monkeypatch) -> None:
    """The loader placing the model as on a GPU (the load device CUDA), its weights kept on the CPU here."""
    cpu = torch.device("cpu")
    monkeypatch.setattr(pack_module(pack, "nodes.model_nodes"), "_placement", lambda device, dtype: (torch.device("cuda"), cpu, torch.float32, False))


@pytest.fixture
def attention(pack):
    """The pack's attention module, left on sdpa afterwards."""
    module = pack_module(pack, "ltx2.model.attention")
    yield module
    module.set_attention_backend("sdpa")


def test_the_loaders_speed_inputs_come_last_and_advanced(pack):
    for loader in ("ModelLoader", "SplitModelLoader"):
        inputs = node(pack, loader).GET_SCHEMA().inputs
        compile_input, attention_input = inputs[-2:]
        assert (compile_input.id, attention_input.id) == ("compile", "attention")  # saved workflows' widget values keep their places
        assert compile_input.optional and attention_input.optional and compile_input.options["advanced"] and attention_input.options["advanced"]
        assert compile_input.options["default"] is False and attention_input.options["default"] == "sdpa"
        assert attention_input.options["options"] == ["sdpa", "sageattention", "flash-attn"]


@pytest.mark.parametrize("device,message", [
    ("default", r"attention: sageattention is not installed \(pip install sageattention\); or choose the attention backend sdpa"),
    ("cpu", r"attention: sageattention runs on CUDA only; use sdpa \(the default\) on cpu"),
])  # fmt: skip
def test_a_backend_that_cannot_run_is_refused_before_the_model_loads(pack, tiny_models, attention, monkeypatch, device, message):
    if importlib.util.find_spec("sageattention") is not None:
        pytest.skip("sageattention is installed here")
    if device == "default":
        place_as_on_a_gpu(pack, monkeypatch)
    monkeypatch.setattr(pack_module(pack, "nodes.model_nodes"), "load_models", lambda *a, **k: pytest.fail("the files were loaded"))
    with pytest.raises(pack_module(pack, "ltx2.errors").InputError, match=message):
        node(pack, "ModelLoader").execute(**{**LOADER, "device": device}, attention="sageattention")
    assert attention.attention_backend() == "sdpa"


def test_the_loaders_compile_and_attention_reach_each_run_and_its_resume_key(pack, tiny_models, attention, monkeypatch):
    place_as_on_a_gpu(pack, monkeypatch)
    fake_kernel_module(monkeypatch, "flash_attn", [])
    prepared = pack_module(pack, "nodes.chain_model").prepared
    chunk_renderer = pack_module(pack, "ltx2.pipeline.renderer").LTXChunkRenderer
    settings = pack_module(pack, "ltx2.pipeline.settings").RenderSettings(width=64, height=64)

    plain = node(pack, "ModelLoader").execute(**LOADER).args[0]
    model = node(pack, "ModelLoader").execute(**LOADER, compile=True, attention="flash-attn").args[0]
    assert attention.attention_backend() == "sdpa"  # checked at load; used only while a run of that model goes on
    assert all(block._compiled_call_impl is not None for block in model.models.transformer.transformer_blocks)
    assert not any(block._compiled_call_impl is not None for block in plain.models.transformer.transformer_blocks)
    styled = node(pack, "LoraLoader").execute(model=model, lora="ltx-2-19b-lora-camera-control-dolly-in.safetensors", scale=0.5, name="").args[0]
    for handle in (model, styled):  # a LoRA loader's handle keeps the model's kernel
        with prepared(handle) as models:
            assert attention.attention_backend() == "flash-attn"
            numerics = json.loads(chunk_renderer(models, settings).fingerprint())["numerics"]
        assert numerics["attention"] == "flash-attn" and numerics["compiled"] is True
        assert attention.attention_backend() == "sdpa"
    with prepared(plain) as models:
        numerics = json.loads(chunk_renderer(models, settings).fingerprint())["numerics"]
    assert "attention" not in numerics and "compiled" not in numerics


# ---- guidance passes batched, text keys/values kept: unless that does not fit the GPU


GUIDED = RenderSettings(width=64, height=64, sigmas=full_schedule(2), guidance="reference", tile=None)
"""The full models' reference guidance: four passes a step (conditional, negative prompt, STG, modality); the VAE
untiled, whatever the budget."""


def render_guided(models, monkeypatch, budget) -> tuple[list[tuple[bool, bool]], list[tuple]]:
    """Render a two-chunk guided chain with ``budget`` bytes free on the device (None: the CPU): (passes batched,
    text keys/values kept) of each chunk, and what the memory planner was asked (tokens and batch)."""
    monkeypatch.setattr(renderer, "device_budget", lambda device: budget)
    ways, asked = [], []
    original_sample, original_memory = renderer.sample, LTXModels.denoise_memory
    monkeypatch.setattr(renderer, "sample", lambda model, *a, **k: ways.append((model.batched, model.cache_text)) or original_sample(model, *a, **k))
    monkeypatch.setattr(LTXModels, "denoise_memory", lambda self, *a: asked.append(a) or original_memory(self, *a))
    plan = make_plan(total_frames=41, fps=24, clip_frames=25, tail_frames=9)
    render_chain(models, GUIDED, plan, ChunkSchedule.parse({"prompt": "waves", "negative_prompt": "blur"}))
    monkeypatch.setattr(LTXModels, "denoise_memory", original_memory)
    return ways, asked


def needs(models, monkeypatch) -> dict[tuple[bool, bool], int]:
    """The planner's bytes for each way of running the guided chunks: (passes batched, text keys/values kept) ->
    working memory of a forward plus the text keys/values kept (two prompts: the negative one too)."""
    _, asked = render_guided(models, monkeypatch, 2**60)
    tokens = asked[0][:-1]
    assert set(asked) == {(*tokens, 4), (*tokens, 1)}  # the four passes as one batch, or one by one
    kept = text_cache_bytes(models.transformer.cfg, tokens[-1], 2, models.dtype)
    assert kept > 0  # the demo model is a 19B: its text keys/values do not depend on sigma
    return {(batch, cache): models.denoise_memory(*tokens, 4 if batch else 1) + (kept if cache else 0) for batch in (True, False) for cache in (True, False)}


@pytest.fixture
def models():
    return demo_models(seed=0)


def test_on_the_cpu_passes_are_batched_and_the_text_kept(models, monkeypatch, caplog):
    with caplog.at_level(logging.WARNING, logger=renderer.__name__):
        assert render_guided(models, monkeypatch, None) == ([(True, True)] * 2, [])  # no device budget, no estimate
    assert caplog.text == ""


@pytest.mark.parametrize("budget,way,said", [
    (lambda n: n[True, True], (True, True), None),
    (lambda n: n[True, True] - 1, (True, False), "the text keys/values are made again at every step"),
    (lambda n: n[True, False] - 1, (False, True), "the 4 guidance passes run one after another"),
    (lambda n: n[False, True] - 1, (False, False), "the 4 guidance passes run one after another and the text keys/values are made again at every step"),
    (lambda n: 0, (False, False), "the 4 guidance passes run one after another and the text keys/values are made again at every step"),
])  # fmt: skip
def test_the_fastest_way_that_fits_the_gpu_is_chosen_and_a_slower_one_said_once(models, monkeypatch, caplog, budget, way, said):
    n = needs(models, monkeypatch)
    assert n[True, True] > n[True, False] > n[False, True] > n[False, False]  # the demo's sizes order the ways so
    with caplog.at_level(logging.WARNING, logger=renderer.__name__):
        assert render_guided(models, monkeypatch, budget(n))[0] == [way] * 2
    if said is None:
        assert caplog.text == ""
    else:
        (record,) = caplog.records  # two chunks, one line
        assert record.getMessage().startswith(f"denoise: {said} (slower): the fastest way needs about")


def test_streamed_blocks_still_to_come_in_count_against_the_budget(models, monkeypatch):
    fastest = needs(models, monkeypatch)[True, True]
    models.offload("blocks", blocks=2)
    streamed = models.residency.streamed_bytes("transformer")
    assert streamed == max(sum(t.nbytes for t in b.state_dict().values()) for b in models.transformer.transformer_blocks[1:]) > 0
    assert render_guided(models, monkeypatch, fastest + streamed - 1)[0] == [(True, False)] * 2
    assert render_guided(models, monkeypatch, fastest + streamed)[0] == [(True, True)] * 2


def test_an_unguided_step_only_weighs_keeping_the_text(models, monkeypatch):
    asked = []
    monkeypatch.setattr(renderer, "device_budget", lambda device: 0)
    monkeypatch.setattr(LTXModels, "denoise_memory", lambda self, *a: asked.append(a[-1]) or 0)
    plan = make_plan(total_frames=25, fps=24, clip_frames=25, tail_frames=9)
    render_chain(models, RenderSettings(width=64, height=64, sigmas=(1.0, 0.5, 0.0), guidance="off", tile=None), plan, ChunkSchedule.parse({"prompt": "waves"}))
    assert asked == [1, 1]  # one pass: with and without the text kept, never a batch


def test_the_kept_text_keys_and_values_are_gone_before_the_decode(models, monkeypatch):
    """The velocity model holds the 19B's text keys/values (about 1.1 GiB per prompt at full size): nothing keeps it
    once its stage has sampled, so the decode phase (and the next stage) do not carry them."""
    made, seen = [], []
    original_velocity, original_phase = renderer.LTXChunkRenderer._velocity, LTXModels.phase
    monkeypatch.setattr(renderer.LTXChunkRenderer, "_velocity", lambda self, *a: made.append(weakref.ref(v := original_velocity(self, *a))) or v)

    def phase(self, name, only=None):
        if name in ("decode", "upsample"):
            gc.collect()
            seen.append((name, [ref() is None for ref in made]))
        return original_phase(self, name, only)

    monkeypatch.setattr(LTXModels, "phase", phase)
    render_chain(models, GUIDED, make_plan(total_frames=41, fps=24, clip_frames=25, tail_frames=9), ChunkSchedule.parse({"prompt": "waves", "negative_prompt": "blur"}))
    assert made and any(name == "decode" for name, _ in seen)
    assert all(all(gone) for _, gone in seen), seen
