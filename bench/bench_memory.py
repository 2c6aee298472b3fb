"""Host memory of loading and rendering from checkpoint files, per offload mode, against the planner (CPU).

    python bench/bench_memory.py [--small] [--json] [--keep DIR]

Writes, into a temp dir, a scaled-down model in the official single-file layout with seeded random bf16 weights
(the tiny LTX-2 19B reference config with a larger DiT, about 0.7 GB; its connectors, VAEs and vocoder as they
are) plus a Gemma 3 text model folder (about 0.6 GB, with the demo tokenizer), and an fp8 copy of the checkpoint
(the block Linears quantised per tensor: ``scale = absmax / 448``, fp8 weight + scalar ``.weight_scale``).
``--small`` divides the sizes by 4 (a quick run). Each measurement runs in a fresh process
(``--child ...``), so peaks are independent; peaks are ``VmHWM`` (reset after imports) minus the RSS then:

* load: peak while ``load_models(offload="none")`` loads the bf16 file and the fp8 file, over the bytes of the
  weights loaded (target <= 1.15 each); the DiT's resident bytes fp8 file / bf16 file (target <= 0.55);
* render: a 2-chunk chain (41 frames, clip 25, tail 9, 64x64, 3 of the distilled steps) in each offload mode (``none``, ``model``,
  ``blocks`` with 2 blocks): the whole run's peak and each phase's (reset once the phase has taken the components it does not need off the device: ``Residency.on_enter``);
  ``model`` over ``none`` (target <= 0.65);
* the planner (``plan_files(..., device_type="cpu")``, same mode) against each phase's measured peak
  (target: every estimate within 15 %).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

TINY = "reference/fixtures/checkpoints/tiny-ltx-2-19b.safetensors"
TINY_PATHS = [ROOT / "tests/fixtures" / TINY, ROOT.parent / "shared" / TINY]
DIT_PREFIX = "model.diffusion_model."
FP8_LINEAR = re.compile(r"^model\.diffusion_model\.transformer_blocks\.\d+\.(\w+\.(to_[qkv]|to_out\.0)|\w*ff\.net\.(0\.proj|2))\.weight$")
FP8_MAX = float(torch.finfo(torch.float8_e4m3fn).max)
MiB, GiB = 2**20, 2**30
MODES = ("none", "model", "blocks")
BLOCKS = 2
PHASE_ORDER = ("text", "encode", "denoise", "upsample", "decode")
GEOMETRY = {"width": 64, "height": 64, "frames": 41, "clip_frames": 25, "tail_frames": 9}
PROMPT = "a cat sat on the mat"
STEPS = 3
COMPUTE = torch.float32  # the render's compute dtype on the CPU (bf16 matmuls there add oneDNN's own weight copies)


# --- memory readings -----------------------------------------------------------------------------------------


def _status(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def rss() -> int:
    return _status("VmRSS")


def hwm() -> int:
    return _status("VmHWM")


def import_libraries() -> None:
    """Import the code the engine runs before the baseline is taken: transformers' Gemma 3 modules alone add about
    150 MiB of RSS on first import, which is library code, not the model's memory."""
    from transformers import Gemma3TextConfig, Gemma3TextModel, GemmaTokenizer  # noqa: F401


def reset_hwm() -> None:
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


# --- the model files -----------------------------------------------------------------------------------------


def sizes(small: bool) -> dict:
    """DiT and Gemma sizes; ``small`` halves every width (about a quarter of the bytes)."""
    d = 2 if small else 1
    return {
        "dit": {"num_layers": 16, "num_attention_heads": 16 // d, "attention_head_dim": 64, "audio_num_attention_heads": 16 // d, "audio_attention_head_dim": 32},
        "gemma": {"hidden_size": 1024 // d, "intermediate_size": 4096 // d, "num_hidden_layers": 20, "num_attention_heads": 8, "num_key_value_heads": 4, "head_dim": 128 // d},
    }  # fmt: skip


def scaled_config(tiny: dict, s: dict, text_width: int) -> dict:
    """The tiny config with the DiT at ``s``; the connectors (and caption channels) as wide as Gemma's hidden size."""
    config = json.loads(json.dumps(tiny))
    t = config["transformer"]
    t.update(s)
    t.update(caption_channels=text_width, connector_attention_head_dim=64, connector_num_attention_heads=text_width // 64)
    t["cross_attention_dim"] = s["num_attention_heads"] * s["attention_head_dim"]
    t["audio_cross_attention_dim"] = s["audio_num_attention_heads"] * s["audio_attention_head_dim"]
    return config


def gemma_config(s: dict) -> dict:
    n = s["num_hidden_layers"]
    return {
        "model_type": "gemma3_text", "vocab_size": 256, **s, "sliding_window": 512, "max_position_embeddings": 4096,
        "layer_types": ["full_attention" if (i + 1) % 6 == 0 else "sliding_attention" for i in range(n)], "pad_token_id": 0,
        "eos_token_id": 1, "bos_token_id": 2, "query_pre_attn_scalar": s["head_dim"], "rms_norm_eps": 1e-6,
    }  # fmt: skip


def _random(shape, generator: torch.Generator) -> torch.Tensor:
    return (torch.randn(tuple(shape), generator=generator) * 0.02).to(torch.bfloat16)


def write_files(folder: Path, small: bool, seed: int = 0) -> dict:
    """The bf16 checkpoint, its fp8 copy and the Gemma folder; returns their paths and byte counts."""
    from safetensors import safe_open
    from safetensors.torch import save_file
    from transformers import Gemma3TextConfig, Gemma3TextModel

    from ltx2.model.connector import ConnectorConfig, EmbeddingsConnector
    from ltx2.model.transformer import AudioVideoTransformer
    from ltx2.pipeline.models import demo_tokenizer
    from ltx2.text.features import feature_extractor_from_config

    tiny_path = next((p for p in TINY_PATHS if p.exists()), None)
    if tiny_path is None:
        raise SystemExit(f"tiny reference checkpoint not found (looked in {', '.join(map(str, TINY_PATHS))})")
    s = sizes(small)
    generator = torch.Generator().manual_seed(seed)
    with safe_open(str(tiny_path), "pt") as f:
        metadata = dict(f.metadata())
        gcfg = gemma_config(s["gemma"])
        config = scaled_config(json.loads(metadata["config"]), s["dit"], gcfg["hidden_size"])
        t = config["transformer"]
        with torch.device("meta"):
            dit = AudioVideoTransformer.from_config(config)
            extractor = feature_extractor_from_config(t, gcfg["hidden_size"], gcfg["num_hidden_layers"] + 1)
            connectors = {side: EmbeddingsConnector(ConnectorConfig.from_config(t, audio=side == "audio")) for side in ("video", "audio")}
        state = {DIT_PREFIX + k: _random(v.shape, generator) for k, v in dit.state_dict().items()}
        state.update({"text_embedding_projection." + k: _random(v.shape, generator) for k, v in extractor.state_dict().items()})
        for side, connector in connectors.items():
            state.update({f"{DIT_PREFIX}{side}_embeddings_connector.{k}": _random(v.shape, generator) for k, v in connector.state_dict().items()})
        for key in f.keys():  # VAEs, vocoder: as the tiny file has them
            if not key.startswith((DIT_PREFIX, "text_embedding_projection.")):
                state[key] = f.get_tensor(key)
    del dit
    metadata["config"] = json.dumps(config)
    bf16 = folder / "ltx-2-19b-bench.safetensors"
    save_file(state, str(bf16), metadata=metadata)
    dit_bytes = sum(t.nbytes for k, t in state.items() if k.startswith(DIT_PREFIX) and "_embeddings_connector." not in k)
    for key in [k for k in state if FP8_LINEAR.match(k)]:
        w = state[key].float()
        scale = (w.abs().max() / FP8_MAX).clamp(min=1e-12)
        state[key] = (w / scale).clamp(-FP8_MAX, FP8_MAX).to(torch.float8_e4m3fn)
        state[key + "_scale"] = scale.reshape(())
    fp8 = folder / "ltx-2-19b-bench-fp8.safetensors"
    save_file(state, str(fp8), metadata=metadata)
    del state

    gemma = folder / "gemma-3-bench"
    gemma.mkdir()
    text_config = Gemma3TextConfig(**gcfg)
    with torch.device("meta"):
        shapes = {k: v.shape for k, v in Gemma3TextModel(text_config).state_dict().items()}
    gstate = {k: _random(shape, generator) for k, shape in shapes.items()}
    for k in gstate:
        if k.endswith("norm.weight"):  # Gemma's RMSNorm scales by (1 + w): keep them small
            gstate[k].zero_()
    save_file(gstate, str(gemma / "model.safetensors"), metadata={"format": "pt"})
    gemma_bytes = sum(t.nbytes for t in gstate.values())
    del gstate
    text_config.save_pretrained(str(gemma))
    demo_tokenizer().save_pretrained(str(gemma))
    return {"bf16": str(bf16), "fp8": str(fp8), "gemma": str(gemma), "dit_bytes": dit_bytes, "gemma_bytes": gemma_bytes}


# --- the measurements (each in its own process) -----------------------------------------------------------


def weight_bytes(models) -> int:
    seen, total = set(), 0
    for module in models.modules().values():
        for t in [*module.parameters(), *module.buffers()]:
            if id(t) not in seen and t.device.type != "meta":
                seen.add(id(t))
                total += t.nbytes
    return total


def child_load(args) -> dict:
    from ltx2.pipeline.models import load_models

    import_libraries()
    reset_hwm()
    base = rss()
    t0 = time.perf_counter()
    models = load_models(args.checkpoint, args.gemma, device="cpu", dtype=torch.bfloat16, offload="none")
    seconds = time.perf_counter() - t0
    peak = hwm() - base
    return {
        "peak": peak, "weights": weight_bytes(models), "dit": models.residency.resident_bytes("transformer"),
        "text_encoder": models.residency.resident_bytes("text_encoder"), "seconds": seconds,
    }  # fmt: skip


def child_render(args) -> dict:
    from ltx2.chain.plan import make_plan
    from ltx2.chain.schedule import ChunkSchedule
    from ltx2.memory.residency import Residency
    from ltx2.pipeline.models import load_models
    from ltx2.pipeline.run import render_chain
    from ltx2.pipeline.settings import RenderSettings
    from ltx2.sampling.schedules import DISTILLED_STAGE1

    phases: dict[str, int] = {}
    run_peak = [0]
    original = Residency.phase

    def measured_phase(self, name):
        inner = original(self, name)

        class Wrapped:
            def __enter__(self_):
                run_peak[0] = max(run_peak[0], hwm())
                return inner.__enter__()  # the peak restarts once the other components are off (on_enter)

            def __exit__(self_, *exc):
                out = inner.__exit__(*exc)
                peak = hwm()
                run_peak[0] = max(run_peak[0], peak)
                phases[name] = max(phases.get(name, 0), peak - base)
                return out

        return Wrapped()

    Residency.phase = measured_phase
    import_libraries()
    reset_hwm()
    base = rss()
    t0 = time.perf_counter()
    models = load_models(args.checkpoint, args.gemma, device="cpu", dtype=COMPUTE, offload=args.mode, blocks=BLOCKS)
    models.residency.on_enter = lambda phase, needed: (run_peak.__setitem__(0, max(run_peak[0], hwm())), reset_hwm())
    g = GEOMETRY
    plan = make_plan(total_frames=g["frames"], fps=24, clip_frames=g["clip_frames"], tail_frames=g["tail_frames"])
    sigmas = (*DISTILLED_STAGE1[:STEPS], 0.0)  # fewer steps than the 8 distilled: same peaks, less time
    render_chain(models, RenderSettings(width=g["width"], height=g["height"], sigmas=sigmas), plan, ChunkSchedule.parse({"prompt": PROMPT}), return_media=True)
    seconds = time.perf_counter() - t0
    run_peak[0] = max(run_peak[0], hwm())
    ledger = [{"phase": r.phase, "resident": sum(r.resident.values()), "blocks_peak": r.blocks_peak} for r in models.residency.ledger]
    return {"mode": args.mode, "peak": run_peak[0] - base, "phases": phases, "seconds": seconds, "ledger": ledger}


def child_plan(args) -> dict:
    """The planner's estimates for the render geometry (its own process: it imports the activation model)."""
    from ltx2.memory import planner

    g = GEOMETRY
    geometry = planner.Geometry(g["width"], g["height"], g["clip_frames"], g["tail_frames"])
    plans = planner.plan_files(args.checkpoint, args.gemma, geometry, weights="auto", dtype=COMPUTE, device_type="cpu")
    out = {}
    for p in plans:
        label = p.mode if p.mode != "blocks" else f"blocks{p.blocks}"
        # a phase's peak as measured: its weights and working memory plus the runtime's own (the plan's overhead)
        out[label] = {n: {"weights": e.weights, "activations": e.activations, "peak": e.peak + p.overhead} for n, e in p.phases.items()}
        out[label]["_peak"] = p.peak
    return out


def run_child(kind: str, *extra: str) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", kind, *extra]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        return {"error": (r.stderr.strip().splitlines() or ["exit %d" % r.returncode])[-1], "stderr": r.stderr[-3000:]}
    return json.loads(r.stdout.strip().splitlines()[-1])


# --- the report ----------------------------------------------------------------------------------------------


def mib(n) -> str:
    return f"{n / MiB:9.1f}" if isinstance(n, (int, float)) else f"{'-':>9}"


def goal(name: str, value, target: float, le: bool = True) -> dict:
    ok = value is not None and (value <= target if le else value >= target)
    return {"goal": name, "value": None if value is None else round(value, 3), "target": target, "result": "PASS" if ok else "MISS"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", action="store_true", help="sizes / 4: a quick run")
    parser.add_argument("--json", action="store_true", help="also print the results as JSON")
    parser.add_argument("--keep", help="write the model files here (kept) instead of a temp dir")
    parser.add_argument("--child", choices=["load", "render", "plan"], help=argparse.SUPPRESS)
    parser.add_argument("--checkpoint", help=argparse.SUPPRESS)
    parser.add_argument("--gemma", help=argparse.SUPPRESS)
    parser.add_argument("--mode", choices=MODES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps({"load": child_load, "render": child_render, "plan": child_plan}[args.child](args)))
        return

    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(args.keep or tmp)
        folder.mkdir(parents=True, exist_ok=True)
        files = write_files(folder, args.small)
        write_s = time.perf_counter() - t0
        print(f"wrote the files in {write_s:.0f} s: DiT {files['dit_bytes'] / MiB:.0f} MiB bf16, Gemma {files['gemma_bytes'] / MiB:.0f} MiB", file=sys.stderr)
        common = ["--gemma", files["gemma"]]
        loads = {w: run_child("load", "--checkpoint", files[w], *common) for w in ("bf16", "fp8")}
        renders = {m: run_child("render", "--checkpoint", files["bf16"], "--mode", m, *common) for m in MODES}
        plans = run_child("plan", "--checkpoint", files["bf16"], *common)

    results = {"sizes": sizes(args.small), "files": {k: files[k] for k in ("dit_bytes", "gemma_bytes")}, "load": loads, "render": renders, "plan": plans}
    lines = [f"{'measurement':<28}{'peak MiB':>9}{'weights':>9}{'ratio':>8}   note"]
    for w, r in loads.items():
        if "error" in r:
            lines.append(f"{'load ' + w:<28}  error: {r['error']}")
            continue
        lines.append(f"{'load ' + w:<28}{mib(r['peak'])}{mib(r['weights'])}{r['peak'] / r['weights']:8.3f}   DiT {r['dit'] / MiB:.1f} MiB, {r['seconds']:.1f} s")
    lines.append("")
    phases = [p for p in PHASE_ORDER if any(p in r.get("phases", {}) for r in renders.values())]
    lines.append(f"{'render (MiB over baseline)':<28}{'run':>9}" + "".join(f"{p:>17}" for p in phases) + f"{'seconds':>9}")
    lines.append(f"{'':<28}{'':>9}" + "".join(f"{'meas / plan':>17}" for _ in phases))
    plan_errors = []
    for m, r in renders.items():
        if "error" in r:
            lines.append(f"{m:<28}  error: {r['error']}")
            continue
        label = m if m != "blocks" else f"blocks{BLOCKS}"
        plan = plans.get(label) if "error" not in plans else None
        cells = []
        for p in phases:
            meas = r["phases"].get(p)
            est = plan.get(p, {}).get("peak") if plan else None
            cell = f"{meas / MiB:.0f}" if meas is not None else "-"
            cell += f" / {est / MiB:.0f}" if est is not None else " / -"
            if meas and est is not None:
                plan_errors.append((f"{m}:{p}", est / meas))
            cells.append(f"{cell:>17}")
        lines.append(f"{(m if m != 'blocks' else f'blocks ({BLOCKS})'):<28}{mib(r['peak'])}" + "".join(cells) + f"{r['seconds']:9.1f}")
    if "error" in plans:
        lines.append(f"planner: error: {plans['error']}")
    elif plan_errors:
        lines.append("planner estimate / measured: " + ", ".join(f"{k} {v:.2f}" for k, v in plan_errors))

    def ratio(a, b):
        return a / b if a is not None and b else None

    lb, lf = loads["bf16"], loads["fp8"]
    goals = [
        goal("load peak / weights, bf16 file", ratio(lb.get("peak"), lb.get("weights")), 1.15),
        goal("load peak / weights, fp8 file", ratio(lf.get("peak"), lf.get("weights")), 1.15),
        goal("DiT resident fp8 / bf16", ratio(lf.get("dit"), lb.get("dit")), 0.55),
        goal("render peak model / none", ratio(renders["model"].get("peak"), renders["none"].get("peak")), 0.65),
        goal("planner worst |estimate / measured - 1|", max((abs(v - 1) for _, v in plan_errors), default=None), 0.15),
    ]
    results["goals"] = goals
    lines.append("")
    lines += [f"{g['result']:<5} {g['goal']:<42} {'-' if g['value'] is None else g['value']:>7} (target <= {g['target']})" for g in goals]
    lines.append(f"(total {time.perf_counter() - t0:.0f} s; {'--small' if args.small else 'full'} sizes)")
    print("\n".join(lines))
    for r in [*loads.values(), *renders.values(), plans]:
        if "stderr" in r:
            print(f"--- child error ---\n{r['stderr']}", file=sys.stderr)
    if args.json:
        print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
