"""An oracle chunk renderer: every rendered frame carries its absolute frame index, every audio sample its
absolute sample index, so stitching mistakes (a duplicate, a gap, an off-by-one) show up exactly.

Each frame also carries seeded noise mixed with the incoming handoff, so resumed output is bit-identical only
if latents and handoffs survive the run directory exactly.
"""

from __future__ import annotations

import time

import torch

from ltx2.chain.plan import sample_at_frame
from ltx2.chain.runner import ChunkJob, ChunkMedia
from ltx2.chain.store import ChunkRecord

SAMPLE_RATE = 16000


class OracleRenderer:
    def __init__(self, steps: int = 3, fail_at: int | None = None, audio: bool = True, step_seconds: float = 0.0):
        self.steps = steps
        self.step_seconds = step_seconds
        self.fail_at = fail_at
        self.audio = audio
        self.rendered: list[int] = []
        self.params = {}
        self.handoffs = {}

    def fingerprint(self) -> str:
        return f"oracle/steps={self.steps}/audio={self.audio}"

    def render(self, job: ChunkJob, handoff, on_step) -> ChunkRecord:
        c = job.chunk
        self.params[c.index] = job.params
        self.handoffs[c.index] = handoff
        for step in range(1, self.steps + 1):
            if c.index == self.fail_at and step == 2:
                raise RuntimeError(f"oracle failure in chunk {c.index}")
            time.sleep(self.step_seconds)
            on_step(step, self.steps)
        generator = torch.Generator().manual_seed(job.params.seed)
        carry = handoff["noise"].mean() if handoff is not None else torch.tensor(0.0)
        noise = torch.rand(c.frames, generator=generator) + carry
        index = torch.arange(c.start, c.end, dtype=torch.float64)
        out = None
        if c.tail_frames:
            out = {"frames": index[-c.tail_frames :].clone(), "noise": noise[-c.tail_frames :].clone()}
        self.rendered.append(c.index)
        return ChunkRecord({"index": index, "noise": noise}, out)

    def decode(self, job: ChunkJob, latents) -> ChunkMedia:
        c = job.chunk
        frames = torch.zeros(c.frames, 2, 2, 3, dtype=torch.float64)
        frames[..., 0] = latents["index"].view(-1, 1, 1)
        frames[..., 1] = latents["noise"].view(-1, 1, 1).double()
        if not self.audio:
            return ChunkMedia(frames)
        s0 = sample_at_frame(c.start, job.plan.fps, SAMPLE_RATE)
        s1 = sample_at_frame(c.end, job.plan.fps, SAMPLE_RATE)
        audio = torch.arange(s0, s1, dtype=torch.float64).view(1, -1).repeat(2, 1)
        return ChunkMedia(frames, audio, SAMPLE_RATE)


class PatternRenderer(OracleRenderer):
    """Renders real pictures: 16x16 blocks whose grey level encodes the absolute frame index (recoverable
    after lossless H.264), and a 440 Hz tone continuous in absolute time."""

    def __init__(self, width: int = 96, height: int = 64, **kwargs):
        super().__init__(**kwargs)
        self.width, self.height = width, height

    @staticmethod
    def level(index: torch.Tensor) -> torch.Tensor:
        return (index * 5) % 256

    def pictures(self, index: torch.Tensor) -> torch.Tensor:
        y = torch.arange(self.height).view(1, -1, 1, 1) // 16
        x = torch.arange(self.width).view(1, 1, -1, 1) // 16
        c = torch.arange(3).view(1, 1, 1, 3)
        base = self.level(index.long()).view(-1, 1, 1, 1)
        # block (0, 0) of every channel carries the frame's level alone; other blocks add a fixed pattern
        return ((base + 24 * x + 40 * y + 64 * c * ((x + y) > 0)) % 256).float() / 255

    def decode(self, job, latents):
        media = super().decode(job, latents)
        media.frames = self.pictures(latents["index"])
        if media.audio is not None:
            media.audio = 0.5 * torch.sin(2 * torch.pi * 440 * media.audio.float() / SAMPLE_RATE)
        return media
