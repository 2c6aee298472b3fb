"""Speed work that must not change results: per-chunk caches, batched guidance passes, text keys/values made once per
prompt, the STG pass sharing the conditional pass's first blocks, no host syncs in a step, a block compiled as one
graph, and the attention backend switch."""

import importlib.machinery
import json
import sys
import types
from functools import partial

from pathlib import Path

import pytest
import torch
from parity_transformer_forward import inputs, load, positions
from reference import Case, cases
from torch._subclasses.fake_tensor import FakeTensorMode

from ltx2.errors import InputError
from ltx2.model import attention, transformer
from ltx2.model.compile import compile_blocks
from ltx2.model.forward_cache import ForwardCache
from ltx2.model.transformer import ModalityInput, Perturbation, TransformerConfig, text_cache_bytes
from ltx2.sampling.conditioning import replace_tokens
from ltx2.sampling.euler import Ancestral, blend, euler_step, to_x0
from ltx2.sampling.guidance import Guidance
from ltx2.sampling.tokens import TokenState
from ltx2.sampling.velocity import DiTVelocity

ARCHS = ["ltx2", "ltx23"]
GUIDED = Guidance(cfg=3.0, stg=1.0, stg_blocks=(1,), rescale=0.7, modality=3.0)


def setup(arch: str):
    """The tiny DiT of ``arch``, token states with a pinned prefix (two mask values), contexts and a negative."""
    case = Case(next(e for e in cases() if e["case"] == f"{arch}/transformer_forward"))
    model = load(case)
    video, audio = inputs(case, *positions(case))
    torch.manual_seed(0)
    v = replace_tokens(TokenState.empty(video.latent[:1], video.positions[:1], first_frame_tokens=4), 0, torch.randn(1, 4, video.latent.shape[-1]), 1.0)
    a = TokenState.empty(audio.latent[:1], audio.positions[:1])
    contexts = (video.context[:1], audio.context[:1])
    negative = (torch.randn_like(contexts[0]), torch.randn_like(contexts[1]))
    return model, v, a, contexts, negative


def batch_of_two(video: TokenState, audio: TokenState, contexts, negative):
    """The same inputs as a batch of two samples: other noise and other prompts for the second."""

    def two(state: TokenState) -> TokenState:
        latent = torch.cat((state.latent, torch.randn_like(state.latent)))
        return TokenState(latent, state.clean.repeat(2, 1, 1), state.mask.repeat(2, 1, 1), state.positions, state.target_tokens, state.keyframes.repeat(2, 1))

    def more(c):
        return tuple(torch.cat((x, torch.randn_like(x))) for x in c)

    return two(video), two(audio), more(contexts), more(negative)


def plain_passes(model, video, audio, sigma, contexts, negative):
    """Every guidance pass of :data:`GUIDED`, each a plain call: name -> (video, audio) velocity."""
    stg = Perturbation(skip_video_self_attn=GUIDED.stg_blocks, skip_audio_self_attn=GUIDED.stg_blocks)
    plain = {"cond": (contexts, None), "negative": (negative, None), "perturbed": (contexts, stg), "isolated": (contexts, transformer.ISOLATED)}
    return {name: plain_pass(model, video, audio, sigma, c, p) for name, (c, p) in plain.items()}


def plain_pass(model, video: TokenState, audio: TokenState, sigma, contexts, perturbation=None):
    """One pass the way the DiT was called before the caches: no cache, no timestep levels."""

    def one(state, context, keyframes=None):
        return ModalityInput(state.latent, sigma * state.mask[..., 0], sigma.expand(state.latent.shape[0]), state.positions, context, keyframes_mask=keyframes)

    return model(one(video, contexts[0], video.keyframes), one(audio, contexts[1]), perturbation)


def test_forward_cache_keys_by_identity_and_drops_the_oldest():
    cache, made = ForwardCache(size=2), []

    def make(value):
        return lambda: made.append(value) or value

    x, y, z = torch.zeros(2), torch.zeros(2), torch.zeros(2)
    assert cache.get("k", make(1), x) == 1 and cache.get("k", make(2), x) == 1  # same tensor: kept
    assert cache.get("k", make(3), y) == 3  # an equal but other tensor: made again
    assert cache.get("other", make(4), x) == 4  # another key
    assert cache.get("k", make(5), z) == 5  # over size: the oldest (k, x) goes
    assert cache.get("k", make(6), x) == 6
    assert made == [1, 3, 4, 5, 6]


@pytest.mark.parametrize("arch", ARCHS)
def test_cached_steps_equal_plain_passes_and_make_tables_once(arch, monkeypatch):
    model, video, audio, contexts, _ = setup(arch)
    sigmas = [torch.tensor(s) for s in (1.0, 0.6, 0.3)]
    moved = TokenState(video.latent, video.clean, video.mask, video.positions + 1, video.target_tokens, video.keyframes)
    with torch.no_grad():
        expected = [plain_pass(model, video, audio, s, contexts) for s in sigmas] + [plain_pass(model, moved, audio, sigmas[-1], contexts)]
        tables, projections = [], []
        real_table = transformer.rotary_table
        monkeypatch.setattr(transformer, "rotary_table", lambda *a, **k: tables.append(1) or real_table(*a, **k))
        if model.cfg.caption_projection:
            for p in ("", "audio_"):
                getattr(model, p + "caption_projection").register_forward_hook(lambda *_: projections.append(1))
        velocity = DiTVelocity(model, *contexts)
        got = [velocity(video, audio, s) for s in sigmas]
        assert len(tables) == 4  # self and cross tables of both streams, made by the first step only
        assert len(projections) == (2 if model.cfg.caption_projection else 0)
        # new positions (the tokens moved): the video tables are made again, the audio ones kept
        got.append(velocity(moved, audio, sigmas[-1]))
        assert len(tables) == 6
    for g, e in zip(got, expected):
        torch.testing.assert_close(g, e, rtol=0, atol=0)


@pytest.mark.parametrize("arch", ARCHS)
def test_batched_guidance_passes_equal_sequential_ones(arch):
    model, video, audio, contexts, negative = setup(arch)
    batched = DiTVelocity(model, *contexts, negative=negative, guidance=(GUIDED, GUIDED))
    sequential = DiTVelocity(model, *contexts, negative=negative, guidance=(GUIDED, GUIDED), batch_passes=False)
    assert batched.batched and not sequential.batched and len(batched.passes) == 4
    with torch.no_grad():
        sigma = torch.tensor(0.8)
        for _ in range(2):  # the second step from the caches
            got, expected = batched(video, audio, sigma), sequential(video, audio, sigma)
            for g, e in zip(got, expected):
                torch.testing.assert_close(g, e, rtol=1e-5, atol=1e-5)
        # the sequential passes themselves are the plain ones (cond, negative, STG, isolated)
        passes = sequential._all_passes(video, audio, sigma)
        for name, plain in plain_passes(model, video, audio, sigma, contexts, negative).items():
            torch.testing.assert_close(passes[name], plain, rtol=0, atol=0)
        assert not torch.allclose(got[0], passes["cond"][0], atol=1e-3)  # guidance does something
        # a negative prompt with another token count cannot share the batch: the passes run one after another
        short = (negative[0][:, :-1], negative[1][:, :-1])
        fallback = DiTVelocity(model, *contexts, negative=short, guidance=(GUIDED, GUIDED))
        assert not fallback.batched
        reference = DiTVelocity(model, *contexts, negative=short, guidance=(GUIDED, GUIDED), batch_passes=False)
        torch.testing.assert_close(fallback(video, audio, sigma), reference(video, audio, sigma), rtol=0, atol=0)


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("batch", [1, 2])
def test_each_saving_gives_the_plain_passes(arch, batch):
    """Text keys/values made once per prompt (per run on the 19B, per step on 2.3) and the STG pass started from
    the conditional pass's states, each on its own and together, batched and one pass after another."""
    model, video, audio, contexts, negative = setup(arch)
    if batch == 2:
        video, audio, contexts, negative = batch_of_two(video, audio, contexts, negative)
    sigmas = [torch.tensor(s) for s in (1.0, 0.6, 0.3)]
    ways = {
        "text": {"share_stg_prefix": False},
        "stg prefix": {"cache_text": False},
        "both": {},
        "text, sequential": {"batch_passes": False},
    }
    with torch.no_grad():
        expected = [plain_passes(model, video, audio, s, contexts, negative) for s in sigmas]
        for way, options in ways.items():
            velocity = DiTVelocity(model, *contexts, negative=negative, guidance=(GUIDED, GUIDED), **options)
            assert velocity.batched == ("sequential" not in way)
            for sigma, plain in zip(sigmas, expected):  # the later steps from what the first one kept
                passes = velocity._all_passes(video, audio, sigma)
                for name, (v, a) in plain.items():
                    exact = 0 if "sequential" in way else 1e-5  # the same calls as the plain passes: to the bit
                    torch.testing.assert_close(passes[name], (v, a), rtol=exact, atol=exact, msg=lambda m: f"{way}, {name}, sigma {sigma}: {m}")
        for cache_text in (True, False):
            velocity = DiTVelocity(model, *contexts, cache_text=cache_text)
            for sigma in sigmas:
                torch.testing.assert_close(velocity(video, audio, sigma), plain_pass(model, video, audio, sigma, contexts), rtol=0, atol=0)


def record_text_projections(model) -> list[tuple[str, int, int]]:
    """(layer, context rows, output bytes) of every call of a text cross-attention's key/value projections and key
    norm."""
    calls = []
    for block in model.transformer_blocks:
        for attn in (block.attn2, block.audio_attn2):
            for name in ("to_k", "k_norm", "to_v"):
                getattr(attn, name).register_forward_hook(lambda m, args, out, name=name: calls.append((name, args[0].shape[0], out.nbytes)))
    return calls


@pytest.mark.parametrize("arch", ARCHS)
def test_text_keys_and_values_are_made_once_per_run_on_the_19b_and_once_per_step_on_23(arch):
    model, video, audio, contexts, negative = setup(arch)
    calls = record_text_projections(model)
    steps = 3

    def per_call(rows: int) -> list[tuple[str, int]]:  # every block, both streams, each layer once on ``rows`` rows
        return [(name, rows) for _ in model.transformer_blocks for _ in range(2) for name in ("to_k", "k_norm", "to_v")]

    kept_across_steps = not model.cfg.prompt_adaln
    assert kept_across_steps == (arch == "ltx2")
    expected = {
        # batched: the positive and the negative prompt, 2 rows (the STG and isolated passes take the positive's)
        "batched": per_call(2) * (1 if kept_across_steps else steps),
        # one pass after another: the 19B's cond, STG and isolated passes find the positive prompt's kept
        "sequential": per_call(1) * (2 if kept_across_steps else 4 * steps),
        # without cache_text every pass makes its own at every step
        "batched, cache_text off": per_call(4) * steps,
        "sequential, cache_text off": per_call(1) * 4 * steps,
    }
    with torch.no_grad():
        for way, want in expected.items():
            calls.clear()
            velocity = DiTVelocity(model, *contexts, negative=negative, guidance=(GUIDED, GUIDED), batch_passes="sequential" not in way, cache_text="off" not in way)
            for sigma in torch.linspace(0.9, 0.3, steps):
                velocity(video, audio, sigma)
            assert sorted((name, rows) for name, rows, _ in calls) == sorted(want), way
            if way == "batched":  # the 19B keeps what it made (keys: the norm's output), as text_cache_bytes counts; 2.3 none
                made = sum(nbytes for name, _, nbytes in calls if name != "to_k")
                assert text_cache_bytes(model.cfg, contexts[0].shape[1], 2, torch.float32) == (made if kept_across_steps else 0)


def test_text_cache_bytes_of_the_full_size_models():
    manifests = Path(__file__).parent / "fixtures/reference/manifests"
    full = {name: TransformerConfig.from_config(json.loads((manifests / f"{name}.json").read_text())["config"]["transformer"]) for name in ("ltx-2-19b", "ltx-2.3-22b")}
    assert text_cache_bytes(full["ltx-2-19b"], 1024, 1, torch.bfloat16) == 1.125 * 2**30  # 48 blocks x (4096 + 2048) x 2 x 1024 x 2 bytes
    assert text_cache_bytes(full["ltx-2-19b"], 1024, 2, torch.float32) == 4.5 * 2**30
    assert text_cache_bytes(full["ltx-2.3-22b"], 1024, 2, torch.bfloat16) == 0  # made per step, never kept


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("batch", [1, 2])
def test_the_stg_pass_runs_only_from_its_first_skipped_block(arch, batch):
    model, video, audio, contexts, negative = setup(arch)
    if batch == 2:
        video, audio, contexts, negative = batch_of_two(video, audio, contexts, negative)
    seen = []

    def record(block, args, i):
        if args[0] is not None:  # (a call with no states makes the 19B's text keys/values: not a block run)
            seen.append((i, args[0].shape[0], args[1].shape[0]))

    for i, block in enumerate(model.transformer_blocks):
        block.register_forward_pre_hook(partial(record, i=i))
    late, early = GUIDED, Guidance(cfg=3.0, stg=1.0, stg_blocks=(0,), modality=3.0)
    ways = {  # (guidance, share_stg_prefix) -> samples each block runs
        (late, True): [(0, 3 * batch), (1, 4 * batch)],  # block 0 without the STG pass: it joins at block 1
        (late, False): [(0, 4 * batch), (1, 4 * batch)],
        (early, True): [(0, 4 * batch), (1, 4 * batch)],  # skipped from block 0 on: nothing to share
    }
    with torch.no_grad():
        for (guidance, share), want in ways.items():
            seen.clear()
            DiTVelocity(model, *contexts, negative=negative, guidance=(guidance, guidance), share_stg_prefix=share)(video, audio, torch.tensor(0.5))
            assert seen == [(i, n, n) for i, n in want], (guidance.stg_blocks, share)


def test_twins_and_context_rows_are_checked():
    model, video, audio, contexts, _ = setup("ltx2")
    velocity = DiTVelocity(model, *contexts)
    vi, ai = velocity._input(video, torch.tensor(0.5), contexts[0].repeat(2, 1, 1), 2), velocity._input(audio, torch.tensor(0.5), contexts[1].repeat(2, 1, 1), 2)
    with torch.no_grad(), pytest.raises(ValueError, match="twins"):
        model(vi, ai, twins=1)
    vi.context_index = ai.context_index = (0, 1, 0)
    with torch.no_grad(), pytest.raises(ValueError, match=r"context_index \(0, 1, 0\) does not map a batch of 2 onto 2 context rows"):
        model(vi, ai)


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("batch_passes", [True, False])
def test_a_guided_step_has_no_data_dependent_host_sync(arch, batch_passes):
    """Under FakeTensorMode any op whose output shape or Python value depends on tensor data raises (torch.unique,
    .item(), bool(tensor), boolean masks): a warm step runs there, a cold one (which finds the mask's values) not."""
    model, video, audio, contexts, negative = setup(arch)
    velocity = DiTVelocity(model, *contexts, negative=negative, guidance=(GUIDED, GUIDED), batch_passes=batch_passes)
    sigma, sigma_next = torch.tensor(0.7), torch.tensor(0.4)
    with torch.no_grad():
        velocity(video, audio, sigma)  # the run's first step fills the cache
        with FakeTensorMode(allow_non_fake_inputs=True):
            v, _ = velocity(video, audio, sigma)
            x = euler_step(video.latent, blend(video, to_x0(video, v, sigma)), sigma, sigma_next)
            x = Ancestral(lambda i, m, latent: torch.randn_like(latent)).step(0, "video", video, x, sigma, sigma_next)
        assert x.shape == video.latent.shape
        cold = DiTVelocity(model, *contexts, negative=negative, guidance=(GUIDED, GUIDED), batch_passes=batch_passes)
        with FakeTensorMode(allow_non_fake_inputs=True), pytest.raises(Exception, match="unique"):
            cold(video, audio, sigma)


@pytest.mark.parametrize("arch", ARCHS)
def test_a_block_compiles_as_one_graph_and_matches_eager(arch):
    """fullgraph=True fails on any graph break (host syncs, data-dependent branches); aot_eager keeps it quick."""
    model, video, audio, contexts, negative = setup(arch)
    velocity = DiTVelocity(model, *contexts, negative=negative, guidance=(Guidance(cfg=3.0),) * 2)  # 2 passes, 2 context rows
    sigma = torch.tensor(0.5)
    vi, ai = velocity._input(video, sigma, velocity.stacked[0], 2, video.keyframes), velocity._input(audio, sigma, velocity.stacked[1], 2)
    assert vi.context_index == (0, 1)
    cache = ForwardCache()
    with torch.no_grad():
        vx, _, v = model._prepare(vi, ai.sigma, True, cache)
        ax, _, a = model._prepare(ai, vi.sigma, False, cache)
        # two samples, the second with every attention of block 1 perturbed (per-sample keep tensors)
        perturbation = (Perturbation(), Perturbation(skip_video_self_attn=(1,), skip_audio_self_attn=(1,), skip_a2v=True))
        switches = model._switches(perturbation, 2, vx.device)[1]
        block = model.transformer_blocks[1]
        expected = block(vx, ax, v, a, switches)
        compiled = torch.compile(block, fullgraph=True, backend="aot_eager")
        got = compiled(vx, ax, v, a, switches)
        text_kv = block(None, None, v, a, None)  # the text keys/values of the two context rows, made beforehand
        given = compiled(vx, ax, v, a, switches, text_kv)
    assert [k.shape[0] for k, _ in text_kv] == [2, 2]
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(given, expected, rtol=1e-5, atol=1e-5)


def test_compile_blocks_compiles_every_block_in_place_and_a_guided_step_matches_eager():
    """(aot_eager: inductor's C++ build takes a minute on a small CPU; the graph is the same one it would get)"""
    model, video, audio, contexts, negative = setup("ltx23")
    velocity = DiTVelocity(model, *contexts, negative=negative, guidance=(GUIDED, GUIDED))
    sigma = torch.tensor(0.5)
    with torch.no_grad():
        expected = velocity(video, audio, sigma)
        assert compile_blocks(model, backend="aot_eager") is model
        assert all(block._compiled_call_impl is not None for block in model.transformer_blocks)
        got = velocity(video, audio, sigma)
    for g, e in zip(got, expected):
        torch.testing.assert_close(g, e, rtol=1e-5, atol=1e-5)


def test_compiled_blocks_keep_compiling_past_dynamos_default_recompile_limit(monkeypatch):
    """Unguided, guided, CFG-only, two samples: each a variant of the block's graph; with dynamo's default limit (8)
    and fullgraph=True the ninth stopped the render."""
    from torch._dynamo import config
    from torch._dynamo.utils import counters

    torch._dynamo.reset()
    monkeypatch.setattr(config, "recompile_limit", 8)
    model, video, audio, contexts, negative = setup("ltx23")
    sigma = torch.tensor(0.5)
    two = batch_of_two(video, audio, contexts, negative)
    guidances = [(), (GUIDED, GUIDED), (Guidance(cfg=3.0),) * 2, (Guidance(modality=3.0),) * 2, (Guidance(stg=1.0, stg_blocks=(0,)),) * 2]
    runs = [(state, g) for state in ((video, audio, contexts, negative), two) for g in guidances]
    with torch.no_grad():
        expected = [DiTVelocity(model, *c, negative=n, **({"guidance": g} if g else {}))(v, a, sigma) for (v, a, c, n), g in runs]
        compile_blocks(model, backend="eager")
        graphs = counters["stats"]["unique_graphs"]
        for ((v, a, c, n), g), want in zip(runs, expected):
            got = DiTVelocity(model, *c, negative=n, **({"guidance": g} if g else {}))(v, a, sigma)
            torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
    assert counters["stats"]["unique_graphs"] - graphs > 8  # every variant compiled, none left to run eagerly
    assert config.recompile_limit >= 64
    torch._dynamo.reset()


@pytest.fixture
def backend():
    yield attention
    attention.set_attention_backend("sdpa")


def fake_kernel_module(monkeypatch, name: str, calls: list) -> None:
    module = types.ModuleType(name)
    module.__spec__ = importlib.machinery.ModuleSpec(name, None)
    module.flash_attn_func = module.sageattn = lambda q, *a, **k: calls.append(q.shape) or q
    monkeypatch.setitem(sys.modules, name, module)


def test_unknown_or_missing_attention_backends_are_input_errors(backend):
    with pytest.raises(InputError, match=r"attention: unknown attention backend 'xformers'; choose one of sdpa, sageattention, flash-attn"):
        backend.set_attention_backend("xformers")
    for name in ("sageattention", "flash-attn"):
        if backend.importlib.util.find_spec(backend._MODULES[name]) is None:
            with pytest.raises(InputError, match=rf"attention: {name} is not installed \(pip install {name}\); or choose the attention backend sdpa"):
                backend.set_attention_backend(name)
            assert backend.attention_backend() == "sdpa"


@pytest.mark.parametrize("name,module", [("flash-attn", "flash_attn"), ("sageattention", "sageattention")])
def test_an_optional_backend_refuses_what_it_cannot_run_and_leaves_masks_to_sdpa(backend, monkeypatch, name, module):
    calls = []
    fake_kernel_module(monkeypatch, module, calls)
    backend.set_attention_backend(name)
    assert backend.attention_backend() == name
    q = torch.randn(1, 5, 2, 64)
    with pytest.raises(InputError, match=rf"attention: the {name} attention backend cannot run torch.float32 on cpu with head size 64 .*choose the attention backend sdpa"):
        backend.attend(q, q, q)
    mask = torch.zeros(1, 1, 5, 5)
    torch.testing.assert_close(backend.attend(q, q, q, mask), torch.nn.functional.scaled_dot_product_attention(*(q.transpose(1, 2),) * 3).transpose(1, 2))
    assert calls == []


def test_sdpa_backend_is_the_plain_computation(backend):
    torch.manual_seed(0)
    layer = attention.Attention(32, 4, 8, context_dim=16, gated=True).eval()
    x, context = torch.randn(2, 6, 32), torch.randn(2, 5, 16)
    mask = torch.zeros(2, 1, 1, 5)
    mask[1, ..., 3:] = torch.finfo(torch.float32).max * -1
    with torch.no_grad():
        got = layer(x, context, mask=mask)
        q = layer.q_norm(layer.to_q(x)).view(2, 6, 4, 8).transpose(1, 2)
        k = layer.k_norm(layer.to_k(context)).view(2, 5, 4, 8).transpose(1, 2)
        v = layer.to_v(context).view(2, 5, 4, 8).transpose(1, 2)
        out = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=mask).transpose(1, 2).reshape(2, 6, 32)
        gates = 2.0 * torch.sigmoid(layer.to_gate_logits(x))
        expected = layer.to_out[0]((out.view(2, 6, 4, 8) * gates.unsqueeze(-1)).flatten(-2))
    assert attention.attention_backend() == "sdpa"
    torch.testing.assert_close(got, expected, rtol=0, atol=0)
