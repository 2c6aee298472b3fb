"""The LTX-2 chunk renderer: the one place where the chain meets the model.

For chunk i it encodes the chunk's prompt (once per distinct text), sets the runtime LoRA scales, builds the
video and audio token states from seeded noise, conditions them, denoises, and returns the chunk's latents and
the handoff for chunk i+1. Conditioning of a continuation:

* **video tail**: the previous chunk's last T frames (T = 8m+1) fill latent slots 0..m of this chunk at the
  handoff strength. In ``reencode`` mode they are VAE-encoded on this chunk's own time axis, so slot 0 is a
  true single-frame latent; in ``latent`` mode slots 1..m reuse the previous chunk's last m latents and only
  slot 0 is encoded from one frame. ``tail_noise`` mixes seeded noise into the tail before it conditions.
* **audio tail, by time**: the previous chunk's decoded sound over the same T/fps seconds is encoded on this
  chunk's axis; audio tokens that end within those seconds are kept clean, the rest are generated, so the
  sound continues instead of restarting.
* **anchors**: an image pinned to chunk 0's first frame replaces latent slot 0 (image-to-video); any other
  anchor (a continuation's first frame, any last frame) is appended as keyframe tokens at its frame and
  removed after sampling.
* **crossfade** (a plan option): the receiving chunk delivers the overlap, its first latent frames blended from
  the tail into its own content.
* **drift**: each chunk's latent statistics are pulled toward the first chunk's (``settings.drift``).
* **media** (:class:`MediaGuides`): a soundtrack's samples from the chunk's first frame are encoded on its axis and
  kept at ``audio_strength`` (the tail's sound is not carried then: the track is), and delivered as the chunk's
  sound; a source video's frames over the chunk's span are encoded and kept at ``1 - denoise`` under the tail.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
from dataclasses import replace
from functools import partial

import torch

from ..audio.rates import LATENTS_PER_SECOND, audio_latents_for
from ..chain.drift import LatentStats, latent_stats, pull_toward
from ..chain.plan import latent_frames, sample_at_frame
from ..chain.runner import ChunkJob, ChunkMedia, StepCallback
from ..chain.store import ChunkRecord
from ..errors import InputError
from ..memory.planner import GiB, device_budget
from ..model.attention import attention_backend
from ..model.patchify import (
    patchify_audio,
    patchify_video,
    unpatchify_audio,
    unpatchify_video,
)
from ..model.positions import audio_positions, keyframe_positions, video_positions
from ..model.transformer import text_cache_bytes
from ..model.upsampler import upsample_latent
from ..model.vae_tiling import decode_frames, encode_frames
from ..sampling.conditioning import append_tokens, keep_before, noised, replace_tokens
from ..sampling.euler import Ancestral, sample, seeded_step_noise
from ..sampling.guidance import NO_GUIDANCE, Guidance, default_guidance
from ..sampling.schedules import DISTILLED_STAGE1, DISTILLED_STAGE2
from ..sampling.tokens import TokenState
from ..sampling.velocity import DiTVelocity
from .guides import MediaGuides
from .images import fit_image, load_image
from .models import LTXModels
from .settings import RenderSettings

log = logging.getLogger(__name__)


def crossfade_head(latent: torch.Tensor, tail: torch.Tensor) -> torch.Tensor:
    """Blend a continuation's first latent frames from the tail it received (weight 0 at its first frame) to its own
    content (weight 1 at the tail's last frame), so the overlap it delivers turns smoothly from the previous chunk
    into this one."""
    n = tail.shape[2]
    weights = torch.linspace(0.0, 1.0, n, device=latent.device) if n > 1 else torch.ones(1, device=latent.device)
    out = latent.clone()
    out[:, :, :n] = torch.lerp(tail.to(latent), latent[:, :, :n], weights.view(1, 1, n, 1, 1))
    return out


class LTXChunkRenderer:
    def __init__(self, models: LTXModels, settings: RenderSettings, images: dict[str, torch.Tensor] | None = None, guides: MediaGuides | None = None):
        self.models = models
        self.settings = settings
        self.images = dict(images or {})
        self.guides = guides or MediaGuides()
        self._decoded: tuple[int, ChunkMedia] | None = None  # a chunk decoded inside render() for its tail
        self._said_slower = False  # the log says once per run that the denoise runs a slower way to fit the GPU

    def fingerprint(self) -> str:
        m = self.models
        # what changes the numbers besides the files and settings: a resumed run never mixes chunks computed on
        # another kind of device, in another dtype, by another torch, with fp8 matmuls switched, another attention
        # kernel, compiled blocks, or (on the CPU, where the reduction order follows them) another number of threads
        numerics = {"device": m.device.type, "dtype": str(m.dtype), "torch": torch.__version__,
                    "fp8_matmul": any(getattr(layer, "fp8_matmul", False) for layer in m.transformer.modules()),
                    **({"threads": torch.get_num_threads()} if m.device.type == "cpu" else {}),
                    **({"attention": attention_backend()} if attention_backend() != "sdpa" else {}),
                    **({"compiled": True} if any(getattr(b, "_compiled_call_impl", None) for b in m.transformer.transformer_blocks) else {})}  # fmt: skip
        media = {"media": self.guides.fingerprint()} if self.guides else {}
        return json.dumps({"renderer": "ltx/1", "models": m.name, "loras": m.lora_files, "settings": self.settings.fingerprint(), "numerics": numerics, **media}, sort_keys=True)

    # --- pieces ----------------------------------------------------------------------------------------

    def _encode(self, frames: torch.Tensor, width: int, height: int) -> torch.Tensor:
        """Frames [F, H, W, 3] (F = 8k+1; float 0..1 or uint8), fitted to width x height -> normalised latent
        [1, C, k+1, height/32, width/32] in float32."""
        if frames.dtype == torch.uint8:
            frames = frames.float() / 255
        return encode_frames(self.models.video_encoder, fit_image(frames, width, height), self._tiling(frames.shape[0]), device=self.models.device).float()

    def _tiling(self, frames: int):
        """The VAE tiling for ``frames`` pixel frames: the settings', ``auto`` sized to the GPU memory free now."""
        m = self.models
        return self.settings.tiling_for(m.config, frames, device_budget(m.device), torch.finfo(m.dtype).bits // 8)

    def _image(self, name: str) -> torch.Tensor:
        """A named anchor image as [1, H, W, 3]: a connected image, else a file."""
        if name not in self.images:
            try:
                self.images[name] = load_image(name)
            except ValueError:
                raise InputError([("anchors", f"image {name!r} is neither a connected image nor a readable file")]) from None
        image = self.images[name]
        return image[:1] if image.dim() == 4 else image[None]

    def _apply_loras(self, job: ChunkJob) -> None:
        loras = self.models.loras
        for name, scale in job.params.loras:
            if name not in loras.names:
                attached = ", ".join(n for n in loras.names if n) or "none"
                raise InputError([(f"loras (chunk {job.index})", f"LoRA {name!r} is not loaded; load it first (loaded: {attached})")])
            loras.set_scale(name, scale)

    def _ancestral(self, sigmas) -> bool:
        """Whether the first stage steps ancestrally (``settings.sampler``; ``auto``: LTX-2.5's distilled stage 1)."""
        sampler = self.settings.sampler
        return sampler == "ancestral" or (sampler == "auto" and self.models.arch == "ltx25" and tuple(sigmas) == DISTILLED_STAGE1)

    def _guidance(self, job: ChunkJob) -> tuple[Guidance, Guidance]:
        """A chunk's guidance: its scale as CFG on both modalities; none given: ``settings.guidance``."""
        g = job.params.guidance
        if g is None:
            mode = self.settings.guidance
            if mode == "auto":
                mode = "off" if tuple(self.settings.sigmas) in (DISTILLED_STAGE1, DISTILLED_STAGE2) else "reference"
            return (NO_GUIDANCE, NO_GUIDANCE) if mode == "off" else default_guidance(self.models.arch)
        return (NO_GUIDANCE, NO_GUIDANCE) if g == 1.0 else (Guidance(cfg=g), Guidance(cfg=g))

    def _encoded(self, job: ChunkJob, handoff, stages) -> dict[tuple, torch.Tensor]:
        """Every picture the chunk is conditioned on, encoded once per stage size, in one ``encode`` phase:
        (what, width, height) -> latent; what = ``tail``, ``first`` (the tail's first frame, latent handoff),
        ``opening`` (chunk 0's image carried down the chain), ``source`` (the source video's frames over the chunk)
        or an anchor's image name."""
        p, c, out = job.params, job.chunk, {}
        source = self.guides.video.frames(c.start, c.end) if self.guides.video is not None and p.denoise < 1 else None
        for width, height, _ in stages:
            if source is not None:
                out["source", width, height] = self._encode(source, width, height)
            if handoff is not None:
                if self.settings.handoff == "latent" and handoff["video_latents"].shape[-1] == width // 32:
                    out["first", width, height] = self._encode(handoff["frames"][:1], width, height)
                else:  # re-encode (also the half-size first stage of a two-stage latent handoff)
                    out["tail", width, height] = self._encode(handoff["frames"], width, height)
                if "anchor_image" in handoff and self.settings.anchor_continuations:
                    out["opening", width, height] = self._encode(handoff["anchor_image"], width, height)
            for anchor in p.anchors:
                out[anchor.image, width, height] = self._encode(self._image(anchor.image), width, height)
        return out

    def _video_state(self, job: ChunkJob, handoff, encoded, generator: torch.Generator, width: int, height: int) -> tuple[TokenState, torch.Tensor | None]:
        """The chunk's video tokens, conditioned; and the tail latent it was conditioned on (None for chunk 0)."""
        m, p, c = self.models, job.params, job.chunk
        h, w = height // 32, width // 32
        fps = float(job.plan.fps)
        f = c.latent_frames
        # latent frame 0 carries the first-frame marker (LTX-2.5; other models ignore it): in a continuation, the
        # handed-over tail's first latent, as the reference marks frame 0 of every clip
        state = TokenState.empty(torch.zeros(1, f * h * w, m.latent_channels, device=m.device), video_positions(f, h, w, fps, device=m.device), first_frame_tokens=h * w)
        tail = None
        if ("source", width, height) in encoded:  # video-to-video: the source, kept at 1 - denoise
            state = replace_tokens(state, 0, patchify_video(encoded["source", width, height]), 1.0 - p.denoise)
        if handoff is not None:
            if ("first", width, height) in encoded:
                tail = torch.cat([encoded["first", width, height], handoff["video_latents"].to(m.device)], dim=2)
            else:
                tail = encoded["tail", width, height]
            tokens = patchify_video(tail)
            if p.tail_noise:
                tokens = torch.lerp(tokens, torch.randn(tokens.shape, generator=generator).to(tokens.device), p.tail_noise)
            state = replace_tokens(state, 0, tokens, p.handoff_strength)
        if ("opening", width, height) in encoded:
            tokens = patchify_video(encoded["opening", width, height])
            state = append_tokens(state, tokens, keyframe_positions(0, 1, h, w, fps, device=m.device), self.settings.anchor_continuations)
        for anchor in p.anchors:
            tokens = patchify_video(encoded[anchor.image, width, height])
            if anchor.position == "first" and handoff is None:
                state = replace_tokens(state, 0, tokens, anchor.strength)
            else:
                frame = 0 if anchor.position == "first" else c.frames - 1
                state = append_tokens(state, tokens, keyframe_positions(frame, 1, h, w, fps, device=m.device), anchor.strength)
        return state, tail

    def _audio_state(self, job: ChunkJob, handoff) -> TokenState:
        m, track = self.models, self.guides.soundtrack
        steps = audio_latents_for(job.chunk.frames, job.plan.fps)
        channels = m.transformer.cfg.audio_in_channels
        state = TokenState.empty(torch.zeros(1, steps, channels, device=m.device), audio_positions(steps, device=m.device))
        if track is not None:  # the track from the chunk's first frame, long enough to encode every latent step
            start = sample_at_frame(job.chunk.start, job.plan.fps, track.sample_rate)
            sound = track.cut(start, math.ceil(steps * track.sample_rate / LATENTS_PER_SECOND))
            tokens = patchify_audio(m.audio.encode_audio(sound, track.sample_rate, device=m.device)[None]).float()
            return replace_tokens(state, 0, tokens[:, :steps], job.params.audio_strength)
        if handoff is not None:
            carried = patchify_audio(m.audio.encode_audio(handoff["audio"], int(handoff["audio_rate"]), device=m.device)[None]).float()
            clean = torch.zeros_like(state.latent)
            n = min(steps, carried.shape[1])
            clean[:, :n] = carried[:, :n].to(clean.device)
            state = keep_before(state, clean, job.plan.tail_frames / float(job.plan.fps))
        return state

    def _stages(self) -> list[tuple[int, int, tuple[float, ...]]]:
        """(width, height, sigmas) of each denoising stage."""
        s = self.settings
        if not s.two_stage:
            return [(s.width, s.height, s.sigmas)]
        if self.models.upsampler is None:
            raise InputError([("two_stage", "two-stage rendering needs the spatial x2 latent upsampler: load it with the model")])
        return [(s.width // 2, s.height // 2, s.sigmas), (s.width, s.height, DISTILLED_STAGE2)]

    def _velocity(self, contexts, negatives, guidance: tuple[Guidance, Guidance], video: TokenState, audio: TokenState) -> DiTVelocity:
        """The DiT as a stage's velocity model, made once the denoise phase has its weights on the device.

        The fastest way runs the passes guidance needs as one batch and keeps the text keys/values across steps
        (where they do not depend on sigma). When the memory planner's estimate of that is more than the GPU has free
        now (less the streamed blocks still to come in), the first way that fits of: the text keys/values made again
        at every step, the passes one after another, both (also when nothing fits); said once in the log. On the CPU,
        always the fastest way."""
        m = self.models
        velocity = partial(DiTVelocity, m.transformer, *contexts, negative=negatives, guidance=guidance)
        budget = device_budget(m.device)
        if budget is None:
            return velocity()
        budget -= m.residency.streamed_bytes("transformer")
        passes = velocity(batch_passes=False, cache_text=False).passes
        text_tokens, rows = contexts[0].shape[1], contexts[0].shape[0] * (2 if any(name == "negative" for name, _, _ in passes) else 1)
        kept = text_cache_bytes(m.transformer.cfg, text_tokens, rows, m.dtype)
        # (batch the passes, keep the text keys/values), fastest first: only the choices that change something
        ways = [(batch, cache) for batch in ((True, False) if len(passes) > 1 else (True,)) for cache in ((True, False) if kept else (True,))]
        tokens = (video.latent.shape[1], audio.latent.shape[1], text_tokens)
        needed = {(batch, cache): m.denoise_memory(*tokens, len(passes) if batch else 1) + (kept if cache else 0) for batch, cache in ways}
        batch, cache = next((way for way in ways if needed[way] <= budget), ways[-1])
        if (batch, cache) != ways[0] and not self._said_slower:
            self._said_slower = True
            slower = [f"the {len(passes)} guidance passes run one after another"] if not batch else []
            slower += ["the text keys/values are made again at every step"] if not cache else []
            log.warning("denoise: %s (slower): the fastest way needs about %.1f GiB of working memory and the GPU has %.1f GiB free",
                        " and ".join(slower), needed[ways[0]] / GiB, max(budget, 0) / GiB)  # fmt: skip
        return velocity(batch_passes=batch, cache_text=cache)

    # --- the renderer protocol -------------------------------------------------------------------------

    def _prompts(self, job: ChunkJob) -> tuple[str, ...]:
        """The texts a chunk is conditioned on: its prompt, and its negative prompt when guidance needs one."""
        video_guidance, audio_guidance = self._guidance(job)
        needs_negative = video_guidance.needs_negative or audio_guidance.needs_negative
        return (job.params.prompt, job.params.negative_prompt) if needs_negative else (job.params.prompt,)

    def prepare(self, jobs: list[ChunkJob]) -> None:
        """Encode every distinct prompt of the chunks still to render in one ``text`` phase, so the text encoder
        can leave the device for the rest of the run."""
        texts = [t for job in jobs for t in self._prompts(job) if t not in self.models.prompts]
        if texts:
            with self.models.phase("text"):
                self.models.prompts.warm(texts)

    def render(self, job: ChunkJob, handoff: dict[str, torch.Tensor] | None, on_step: StepCallback) -> ChunkRecord:
        m, p, c = self.models, job.params, job.chunk
        problems = self.guides.chunk_problems(p)
        if problems:
            raise InputError(problems)
        self._apply_loras(job)
        video_guidance, audio_guidance = self._guidance(job)
        self.prepare([job])  # nothing to do when the chain prepared it
        texts = self._prompts(job)
        positive, negative = m.prompts.get(texts[0], texts[1] if len(texts) > 1 else None)
        contexts = (positive.video.to(m.device), positive.audio.to(m.device))
        negatives = None if negative is None else (negative.video.to(m.device), negative.audio.to(m.device))

        generator = torch.Generator().manual_seed(p.seed)
        stages = self._stages()
        total = sum(len(sigmas) - 1 for _, _, sigmas in stages)
        done = 0
        with m.phase("encode") if handoff is not None or p.anchors or self.guides else contextlib.nullcontext():  # the encoders only when used
            audio_start = self._audio_state(job, handoff)  # the same at every stage
            encoded = self._encoded(job, handoff, stages)
        video = audio = None
        for k, (width, height, sigmas) in enumerate(stages):
            h, w = height // 32, width // 32
            new_video, tail = self._video_state(job, handoff, encoded, generator, width, height)
            new_audio = replace(audio_start, latent=audio_start.latent.clone())
            if video is not None:  # refine: start from the upsampled first stage, re-noised to the first sigma
                with m.phase("upsample"):
                    up = upsample_latent(unpatchify_video(video.target().latent, c.latent_frames, h // 2, w // 2).to(m.dtype), m.upsampler, m.video_encoder.per_channel_statistics)
                new_video.latent[:, : new_video.target_tokens] = patchify_video(up.float())
                new_audio.latent.copy_(audio.latent)
            video = noised(new_video, torch.randn(new_video.latent.shape, generator=generator).to(m.device), sigmas[0])
            audio = noised(new_audio, torch.randn(new_audio.latent.shape, generator=generator).to(m.device), sigmas[0])
            # the refine stage runs without guidance, on the positive prompt only (as the reference)
            guidance = (video_guidance, audio_guidance) if k == 0 else (NO_GUIDANCE, NO_GUIDANCE)
            offset = done
            ancestral = Ancestral(seeded_step_noise(p.seed)) if k == 0 and self._ancestral(sigmas) else None
            with torch.inference_mode(), m.phase("denoise"):
                # no name holds the velocity model: its caches (the 19B's text keys/values) go with the stage
                video, audio = sample(
                    self._velocity(contexts, negatives if k == 0 else None, guidance, video, audio), video, audio,
                    torch.tensor(sigmas, device=m.device), on_step=lambda i, n, o=offset: on_step(o + i, total), ancestral=ancestral,
                )  # fmt: skip
            done += len(sigmas) - 1
        h, w = self.settings.height // 32, self.settings.width // 32
        video_latent = unpatchify_video(video.target().latent, c.latent_frames, h, w).float()
        audio_latent = unpatchify_audio(audio.latent, m.audio.decoder.cfg.z_channels).float()
        if job.plan.crossfade and tail is not None:
            video_latent = crossfade_head(video_latent, tail)

        reference = None
        if self.settings.drift:
            if handoff is None:
                reference = latent_stats(video_latent)
            else:
                reference = LatentStats(handoff["drift_mean"].to(m.device), handoff["drift_std"].to(m.device))
                video_latent = pull_toward(video_latent, reference, self.settings.drift)
        latents = {"video": video_latent.cpu(), "audio": audio_latent.cpu()}
        if not c.tail_frames:
            return ChunkRecord(latents, None)
        out = self._handoff(job, latents, reference)
        if self.settings.anchor_continuations:  # chunk 0's opening image travels down the chain
            opening = next((a for a in p.anchors if a.position == "first"), None) if handoff is None else None
            if opening is not None:
                out["anchor_image"] = (self._image(opening.image) * 255).round().to(torch.uint8)
            elif handoff is not None and "anchor_image" in handoff:
                out["anchor_image"] = handoff["anchor_image"]
        return ChunkRecord(latents, out)

    def _handoff(self, job: ChunkJob, latents: dict[str, torch.Tensor], reference: LatentStats | None) -> dict[str, torch.Tensor]:
        c, fps = job.chunk, job.plan.fps
        media = self._decode(job, latents)
        self._decoded = (c.index, media)
        t = c.tail_frames
        a = sample_at_frame(c.frames - t, fps, media.sample_rate)
        b = sample_at_frame(c.frames, fps, media.sample_rate)
        # uint8, as the frames are delivered: 4x smaller in the run directory, identical whether resumed or not
        frames = media.frames[-t:].mul(255).add_(0.5).clamp_(0, 255).to(torch.uint8)
        out = {"frames": frames, "audio": media.audio[:, a:b].clone(), "audio_rate": torch.tensor(media.sample_rate)}
        if self.settings.handoff == "latent":
            out["video_latents"] = latents["video"][:, :, -(latent_frames(t) - 1) :].clone()
        if reference is not None:
            out["drift_mean"], out["drift_std"] = reference.mean.cpu(), reference.std.cpu()
        return out

    def _decode(self, job: ChunkJob, latents: dict[str, torch.Tensor]) -> ChunkMedia:
        m, track = self.models, self.guides.soundtrack
        # with a soundtrack the chunk's sound is the track: the audio decoder and vocoder are not needed
        with m.phase("decode", only=("video_decoder",)) if track is not None else m.phase("decode"):
            tiling = self._tiling((latents["video"].shape[2] - 1) * 8 + 1)
            # each temporal tile's frames leave the device as they come: only one tile's worth is ever held there
            frames = torch.cat([piece.float().cpu() for piece in decode_frames(m.video_decoder, latents["video"].to(m.device, m.dtype), tiling)])
            if track is not None:  # the chunk's sound is the track itself, cut by time: bit-exact
                return ChunkMedia(frames, track.frames_span(job.chunk.start, job.chunk.end, job.plan.fps), track.sample_rate)
            waveform, rate = m.audio.decode_audio(latents["audio"].to(m.device, m.dtype)[0])
        return ChunkMedia(frames, waveform.float().cpu(), rate)

    def decode(self, job: ChunkJob, latents: dict[str, torch.Tensor]) -> ChunkMedia:
        if self._decoded is not None and self._decoded[0] == job.index:
            media, self._decoded = self._decoded[1], None
            return media
        return self._decode(job, latents)
