"""Streaming output benchmark: memory and wall time of chains written to MP4 chunk by chunk.

    python bench/bench_stream.py [--width 768 --height 448 --clip-frames 49 --tail-frames 9 --step-seconds 0.25]

``--renderer stand-in`` (default) stands in for a GPU model: each denoise step waits ``--step-seconds`` (the
render thread waiting on the accelerator) and each decode makes real moving pictures and a tone at the chunk's
size. ``--renderer demo`` renders with the tiny built-in demo model on the CPU, which competes with the encoder
for the same cores. Reported, each configuration in a fresh process:

* peak RSS of a 16-chunk chain over a 2-chunk chain in file mode (target <= 1.15): memory is bounded by a
  chunk, not by the video;
* wall time with background encoding over rendering with no encoding at all (target <= 1.05): encoding
  hides behind the next chunk's render; synchronous encoding is shown for comparison.
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ltx2.chain.plan import make_plan, sample_at_frame  # noqa: E402
from ltx2.chain.runner import ChainRunner, ChunkMedia  # noqa: E402
from ltx2.chain.schedule import ChunkSchedule  # noqa: E402
from ltx2.chain.store import ChunkRecord  # noqa: E402
from ltx2.host import StandaloneHost  # noqa: E402
from ltx2.media.background import BackgroundSink  # noqa: E402
from ltx2.media.mp4 import Mp4Writer  # noqa: E402

SAMPLE_RATE = 24000


class StandInRenderer:
    def __init__(self, width: int, height: int, steps: int, step_seconds: float):
        self.width, self.height, self.steps, self.step_seconds = width, height, steps, step_seconds

    def fingerprint(self) -> str:
        return "bench-stand-in"

    def render(self, job, handoff, on_step):
        for step in range(1, self.steps + 1):
            time.sleep(self.step_seconds)
            on_step(step, self.steps)
        c = job.chunk
        return ChunkRecord({"start": torch.tensor([c.start]), "frames": torch.tensor([c.frames])}, None)

    def decode(self, job, latents):
        c = job.chunk
        t = torch.arange(c.start, c.end, dtype=torch.float32).view(-1, 1, 1, 1)
        y = torch.linspace(0, 1, self.height).view(1, -1, 1, 1)
        x = torch.linspace(0, 1, self.width).view(1, 1, -1, 1)
        rgb = torch.tensor([0.0, 2.1, 4.2]).view(1, 1, 1, 3)
        frames = 0.5 + 0.5 * torch.sin(6.0 * x + 4.0 * y + 0.15 * t + rgb)
        s0 = sample_at_frame(c.start, job.plan.fps, SAMPLE_RATE)
        s1 = sample_at_frame(c.end, job.plan.fps, SAMPLE_RATE)
        audio = 0.3 * torch.sin(2 * math.pi * 220 * torch.arange(s0, s1) / SAMPLE_RATE).repeat(2, 1)
        return ChunkMedia(frames, audio, SAMPLE_RATE)


class DiscardSink:
    """Takes pieces and drops them: the cost of rendering alone."""

    def open(self, fps, total_frames):
        pass

    def check(self):
        pass

    def prepare(self, frames, audio):
        return ()

    def write(self, piece, sample_rate):
        pass

    def commit(self):
        return None

    def abort(self):
        pass


def one(args) -> dict:
    plan = make_plan(
        total_frames=args.clip_frames + (args.chunks - 1) * (args.clip_frames - args.tail_frames),
        fps=24,
        clip_frames=args.clip_frames,
        tail_frames=args.tail_frames,
    )
    if args.renderer == "demo":
        from ltx2.pipeline.models import demo_models
        from ltx2.pipeline.renderer import LTXChunkRenderer
        from ltx2.pipeline.settings import RenderSettings

        renderer = LTXChunkRenderer(demo_models(), RenderSettings(width=args.width, height=args.height, guidance="off"))
    else:
        renderer = StandInRenderer(args.width, args.height, args.steps, args.step_seconds)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "bench.mp4"
        sink = {
            "none": DiscardSink,
            "sync": lambda: Mp4Writer(out),
            "background": lambda: BackgroundSink(Mp4Writer(out)),
        }[args.mode]()
        t0 = time.perf_counter()
        ChainRunner(renderer, StandaloneHost(device="cpu")).run(plan, ChunkSchedule(), sink)
        wall = time.perf_counter() - t0
        size = out.stat().st_size if out.exists() else 0
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {
        "mode": args.mode,
        "chunks": args.chunks,
        "frames": plan.total_frames,
        "wall_s": round(wall, 3),
        "peak_rss_mib": round(peak_kib / 1024, 1),
        "mp4_bytes": size,
        "encode_s": round(getattr(sink, "encode_seconds", 0.0), 3),
        "blocked_s": round(getattr(sink, "blocked_seconds", 0.0), 3),
    }


def run_in_fresh_process(args, mode: str, chunks: int) -> dict:
    cmd = [sys.executable, __file__, "--one", "--mode", mode, "--chunks", str(chunks)]
    for name in ("width", "height", "clip_frames", "tail_frames", "steps", "step_seconds", "renderer"):
        cmd += [f"--{name.replace('_', '-')}", str(getattr(args, name))]
    return json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--width", type=int, default=768)
    parser.add_argument("--height", type=int, default=448)
    parser.add_argument("--clip-frames", type=int, default=49)
    parser.add_argument("--tail-frames", type=int, default=9)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--step-seconds", type=float, default=0.25)
    parser.add_argument("--renderer", choices=("stand-in", "demo"), default="stand-in")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--mode", default="background", help=argparse.SUPPRESS)
    parser.add_argument("--chunks", type=int, default=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args)))
        return

    rows = [run_in_fresh_process(args, mode, chunks) for chunks in (2, 16) for mode in ("none", "sync", "background")]
    get = {(r["mode"], r["chunks"]): r for r in rows}
    print(f"{'mode':>10} {'chunks':>6} {'frames':>6} {'wall s':>8} {'peak RSS MiB':>12} {'encode s':>8} {'blocked s':>9}")
    for r in rows:
        print(f"{r['mode']:>10} {r['chunks']:>6} {r['frames']:>6} {r['wall_s']:>8.2f} {r['peak_rss_mib']:>12.1f} {r['encode_s']:>8.2f} {r['blocked_s']:>9.2f}")
    rss = get[("background", 16)]["peak_rss_mib"] / get[("background", 2)]["peak_rss_mib"]
    overlap = get[("background", 16)]["wall_s"] / get[("none", 16)]["wall_s"]
    sync = get[("sync", 16)]["wall_s"] / get[("none", 16)]["wall_s"]
    print()
    print(f"peak RSS, 16 chunks / 2 chunks (file mode, background):  {rss:.3f}   (target <= 1.15)")
    print(f"wall, background encoding / no encoding (16 chunks):     {overlap:.3f}   (target <= 1.05)")
    print(f"wall, synchronous encoding / no encoding (16 chunks):    {sync:.3f}")


if __name__ == "__main__":
    main()
