"""Media a chain follows: a soundtrack (audio-to-video) and a source video (video-to-video).

Both are cut by time per chunk, on the chunk's own axis, exactly as the tail handoff is: chunk i's sound is the
track's samples from its first frame, encoded and kept at the chunk's ``audio_strength``; its video starts from
the source's frames over its span, encoded and kept at ``1 - denoise``. Everything about them that can be checked
is checked against the plan and schedule before a chunk renders.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..chain.plan import ChainPlan
from ..chain.schedule import ChunkParams, ChunkSchedule
from ..media.soundtrack import Soundtrack
from ..media.source_video import SourceVideo


@dataclass(frozen=True)
class MediaGuides:
    soundtrack: Soundtrack | None = None
    """Sound every chunk follows, delivered as the video's sound."""
    video: SourceVideo | None = None
    """Frames every chunk starts from."""

    def __bool__(self) -> bool:
        return self.soundtrack is not None or self.video is not None

    def fingerprint(self) -> dict:
        """What the media are (by content), for the resume key."""
        out = {}
        if self.soundtrack is not None:
            out["soundtrack"] = {"sha256": self.soundtrack.digest, "end": self.soundtrack.end}
        if self.video is not None:
            out["video"] = {"sha256": self.video.digest}
        return out

    def length(self, fps) -> int | None:
        """Frames to render when no length is given: as long as the media last (the source video, the track; the
        shorter of the two unless the track may end in silence or a loop), None without media."""
        lengths = [] if self.video is None else [self.video.frame_count]
        if self.soundtrack is not None and (self.video is None or self.soundtrack.end == "error"):
            lengths.append(self.soundtrack.frames_covered(fps))
        return min(lengths) if lengths else None

    def problems(self, plan: ChainPlan, schedule: ChunkSchedule) -> list[tuple[str, str]]:
        """Why ``plan`` and ``schedule`` cannot render with these media: media too short, a source at another rate,
        per-chunk values that need media that is not there."""
        out = []
        if self.soundtrack is not None:
            out += self.soundtrack.problems(plan.total_frames, plan.fps)
        if self.video is not None:
            out += self.video.problems(plan.total_frames, plan.fps)
        params = [schedule.resolve(chunk.index, plan) for chunk in plan.chunks]
        if self.video is not None and all(p.denoise == 1.0 for p in params):
            out.append(("denoise", "is 1 in every chunk, so the source video's frames would not be used: give denoise below 1 (e.g. 0.6; 0 keeps the source exactly)"))
        seen = set()
        for p in params:  # the first chunk of each kind of problem is enough to say it
            for field, message in self.chunk_problems(p):
                if message not in seen:
                    seen.add(message)
                    out.append((field, message))
        return out

    def chunk_problems(self, params: ChunkParams) -> list[tuple[str, str]]:
        """Per-chunk values that need media that is not there."""
        needs = (("denoise", self.video, "restyle a source video (--video, or the Chain Sampler's source_video input): give one, or leave denoise at 1"),
                 ("audio_strength", self.soundtrack, "hold a soundtrack (--audio, or the Chain Sampler's soundtrack input): give one, or leave audio_strength at 1"))  # fmt: skip
        return [(f"{name} (chunk {params.index})", f"values below 1 {fix}") for name, media, fix in needs if media is None and getattr(params, name) != 1.0]
