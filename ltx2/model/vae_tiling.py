"""Tiled (memory-bounded) video VAE decode and encode, streamed decode, and the frames-in / frames-out API.

Tiles are cut on the latent grid. Tile sizes and overlaps are given in pixels / pixel frames and divided by
the VAE's (8, 32, 32). Along an axis of length L latents with tile s and overlap o (latent units):

* n = (L + s - 2o - 1) // (s - o) tiles; tile i spans [i(s-o), i(s-o)+s), the last one ends at L; a tile
  carries a linear ramp of length o on each inner edge. L <= s: one tile, no ramps.
* Time is split causally: every tile after the first starts one latent frame earlier and its left ramp is
  o + 1. A tile's first latent frame decodes to a single "first" pixel frame (or, encoding, sees a single
  pixel frame), which the ramp weights at 0.

Blend weights are separable trapezoids. Spatial ramp of r: k/(r+1) rising, k = 1..r, and the mirror image
falling. Temporal right ramp: the same; temporal left ramp (causal) of r: k/r, k = 0..r-1. Latent -> pixel:
space [32a, 32b) with ramps x32; time [8a, 8(b-1)+1) with left ramp 8(r-1)+1 and right ramp 8r. The result is
sum(tile * weight) / sum(weight). With these ramps the weights of neighbouring tiles sum to one, so every
output pixel is a convex mix of the tiles that cover it.

Decoding walks the temporal tiles in order and yields the frames that no later tile touches, so memory is
bounded by one temporal tile (all spatial tiles of it, decoded one at a time, plus its overlap).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

import torch

from .ops import compute_dtype
from .video_vae import VideoDecoder, VideoEncoder, frames_to_pixels, pixels_to_frames


@dataclass(frozen=True)
class AxisTiling:
    """Tile size and overlap along one axis, in pixels (frames for time); ``size == 0`` leaves it untiled."""

    size: int = 0
    overlap: int = 0

    def latent(self, factor: int, axis: str) -> tuple[int, int] | None:
        """(tile, overlap) in latent units, validated against the VAE factor; None when untiled."""
        if self.size == 0:
            if self.overlap:
                raise ValueError(f"tiling {axis}: an untiled axis (size 0) cannot have an overlap")
            return None
        if self.size < 2 * factor or self.size % factor or self.overlap % factor or not 0 <= self.overlap < self.size:
            raise ValueError(
                f"tiling {axis}: size {self.size} must be a multiple of {factor} and at least {2 * factor}, "
                f"overlap {self.overlap} a multiple of {factor} and smaller than the size"
            )
        return self.size // factor, self.overlap // factor


@dataclass(frozen=True)
class VideoTiling:
    frames: AxisTiling = field(default_factory=AxisTiling)
    height: AxisTiling = field(default_factory=AxisTiling)
    width: AxisTiling = field(default_factory=AxisTiling)

    @classmethod
    def default(cls) -> "VideoTiling":
        """80 frames / 24 overlap, 768 px / 64 overlap (the reference pipelines' default)."""
        return cls(AxisTiling(80, 24), AxisTiling(768, 64), AxisTiling(768, 64))


@dataclass(frozen=True)
class Span:
    """One tile along one axis in latent units: [start, end) with ramps on its left / right edge."""

    start: int
    end: int
    left: int
    right: int


def split_axis(length: int, tile: tuple[int, int] | None, causal: bool = False) -> list[Span]:
    if tile is None or length <= tile[0]:
        return [Span(0, length, 0, 0)]
    size, overlap = tile
    step = size - overlap
    count = (length + size - 2 * overlap - 1) // step
    spans = [Span(i * step, min(i * step + size, length), overlap if i else 0, overlap) for i in range(count)]
    spans[-1] = Span(spans[-1].start, length, spans[-1].left, 0)
    if causal:
        spans[1:] = [Span(s.start - 1, s.end, s.left + 1, s.right) for s in spans[1:]]
    return spans


def ramp_weights(length: int, left: int, right: int, causal_left: bool) -> torch.Tensor:
    """Trapezoid of ``length`` with linear ramps (float32); ramps longer than the tile are cut to it."""
    left, right = min(left, length), min(right, length)
    w = torch.ones(length, dtype=torch.float64)
    if left:
        k = torch.arange(left, dtype=torch.float64)
        w[:left] *= k / left if causal_left else (k + 1) / (left + 1)
    if right:
        w[length - right :] *= torch.arange(right, 0, -1, dtype=torch.float64) / (right + 1)
    return w.float()


def _time_pixels(s: Span, scale: int) -> tuple[slice, torch.Tensor]:
    start, stop = s.start * scale, (s.end - 1) * scale + 1
    left = 0 if s.left == 0 else (s.left - 1) * scale + 1
    return slice(start, stop), ramp_weights(stop - start, left, s.right * scale, causal_left=True)


def _space_pixels(s: Span, scale: int) -> tuple[slice, torch.Tensor]:
    return slice(s.start * scale, s.end * scale), ramp_weights((s.end - s.start) * scale, s.left * scale, s.right * scale, causal_left=False)


def _weight_sum(length: int, parts: list[tuple[slice, torch.Tensor]]) -> torch.Tensor:
    total = torch.zeros(length)
    for where, w in parts:
        total[where] += w
    return total


def _outer(t: torch.Tensor, h: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    return t[:, None, None] * h[None, :, None] * w[None, None, :]


def tiled_decode(decoder: VideoDecoder, latent: torch.Tensor, tiling: VideoTiling) -> Iterator[torch.Tensor]:
    """Normalised latent [B, C, F', H', W'] -> pixel chunks [B, 3, f_i, H, W] with sum f_i = 8(F'-1)+1, in order."""
    ft, fh, fw = decoder.cfg.scale_factors()
    _, _, lf, lh, lw = latent.shape
    t_spans = split_axis(lf, tiling.frames.latent(ft, "frames"), causal=True)
    h_spans = split_axis(lh, tiling.height.latent(fh, "height"))
    w_spans = split_axis(lw, tiling.width.latent(fw, "width"))
    times = [_time_pixels(s, ft) for s in t_spans]  # (pixel slice, weights) per tile, per axis
    rows = [_space_pixels(s, fh) for s in h_spans]
    cols = [_space_pixels(s, fw) for s in w_spans]
    frames, height, width = (lf - 1) * ft + 1, lh * fh, lw * fw
    t_sum, h_sum, w_sum = _weight_sum(frames, times), _weight_sum(height, rows), _weight_sum(width, cols)

    done = 0  # pixel frames already yielded; the buffer holds frames [done, done + len)
    acc = latent.new_zeros((latent.shape[0], decoder.cfg.out_channels, 0, height, width), dtype=torch.float32)
    for i, (t_span, (t_out, t_w)) in enumerate(zip(t_spans, times)):
        if t_out.stop - done > acc.shape[2]:
            grow = t_out.stop - done - acc.shape[2]
            acc = torch.cat([acc, acc.new_zeros(*acc.shape[:2], grow, height, width)], dim=2)
        for h_span, (h_out, h_w) in zip(h_spans, rows):
            for w_span, (w_out, w_w) in zip(w_spans, cols):
                with torch.no_grad():
                    tile = decoder(latent[:, :, t_span.start : t_span.end, h_span.start : h_span.end, w_span.start : w_span.end])
                acc[:, :, t_out.start - done : t_out.stop - done, h_out, w_out] += tile.float() * _outer(t_w, h_w, w_w).to(acc.device)
                del tile
        ready = times[i + 1][0].start if i + 1 < len(times) else frames
        if ready > done:
            norm = _outer(t_sum[done:ready], h_sum, w_sum).to(acc.device)
            yield (acc[:, :, : ready - done] / norm).to(latent.dtype)
            acc = acc[:, :, ready - done :].clone()
            done = ready


def tiled_encode(encoder: VideoEncoder, pixels: torch.Tensor, tiling: VideoTiling) -> torch.Tensor:
    """Pixels [B, 3, 8k+1, H, W] in [-1, 1] -> normalised latent, encoding one tile at a time.

    Overlaps must be at least 16 frames and 64 px where an axis is tiled: the edge latents of a tile see
    padding instead of neighbours and need room to be faded out.
    """
    ft, fh, fw = encoder.cfg.scale_factors()
    b, _, f, h, w = pixels.shape
    if (f - 1) % ft or h % fh or w % fw:
        raise ValueError(f"tiled encode: need {ft}k+1 frames and sizes that are multiples of {fh}x{fw}, got {f} frames of {h}x{w}")
    for axis, minimum in ((tiling.frames, 2 * ft), (tiling.height, 2 * fh), (tiling.width, 2 * fw)):
        if axis.size and axis.overlap < minimum:
            raise ValueError(f"tiled encode: overlap {axis.overlap} is below the required {minimum} (frames / px)")
    lf, lh, lw = (f - 1) // ft + 1, h // fh, w // fw
    t_spans = split_axis(lf, tiling.frames.latent(ft, "frames"), causal=True)
    h_spans = split_axis(lh, tiling.height.latent(fh, "height"))
    w_spans = split_axis(lw, tiling.width.latent(fw, "width"))

    def weights(spans: list[Span], length: int, causal: bool) -> tuple[list[torch.Tensor], torch.Tensor]:
        ws = [ramp_weights(s.end - s.start, s.left, s.right, causal_left=causal) for s in spans]
        return ws, _weight_sum(length, [(slice(s.start, s.end), x) for s, x in zip(spans, ws)])

    (t_ws, t_sum), (h_ws, h_sum), (w_ws, w_sum) = weights(t_spans, lf, True), weights(h_spans, lh, False), weights(w_spans, lw, False)
    acc = torch.zeros((b, encoder.cfg.latent_channels, lf, lh, lw), device=pixels.device)
    for ts, t_w in zip(t_spans, t_ws):
        t_in = _time_pixels(ts, ft)[0]
        for hs, h_w in zip(h_spans, h_ws):
            for ws, w_w in zip(w_spans, w_ws):
                with torch.no_grad():
                    tile = encoder(pixels[:, :, t_in, hs.start * fh : hs.end * fh, ws.start * fw : ws.end * fw])
                acc[:, :, ts.start : ts.end, hs.start : hs.end, ws.start : ws.end] += tile.float() * _outer(t_w, h_w, w_w).to(acc.device)
    return (acc / _outer(t_sum, h_sum, w_sum).to(acc.device)).to(pixels.dtype)


# ----------------------------------------------------------------------------------------------------------
# Frames API: [F, H, W, 3] floats in 0..1, the way users hold video


def encode_frames(encoder: VideoEncoder, frames: torch.Tensor, tiling: VideoTiling | None = None, *, device: torch.device | None = None) -> torch.Tensor:
    """Frames [F, H, W, 3] in 0..1 (F = 8k+1, H and W multiples of 32) -> normalised latent [1, C, k+1, H/32, W/32],
    computed on ``device`` (default: where the encoder's first weight is)."""
    weight = encoder.conv_in.conv.weight
    pixels = frames_to_pixels(frames).to(device=device or weight.device, dtype=compute_dtype(encoder, encoder.conv_in.conv))
    if tiling is not None:
        return tiled_encode(encoder, pixels, tiling)
    with torch.no_grad():
        return encoder(pixels)


def decode_frames(decoder: VideoDecoder, latent: torch.Tensor, tiling: VideoTiling | None = None) -> Iterator[torch.Tensor]:
    """Normalised latent [1, C, F', H', W'] -> frames [f, H, W, 3] in 0..1 (float32), streamed in time order.

    Untiled: one piece with all 8(F'-1)+1 frames. Tiled: one piece per temporal tile (the frames no later
    tile overlaps), so a long latent can be decoded and written chunk by chunk. Decoded where ``latent`` is.
    """
    if tiling is None:
        with torch.no_grad():
            pixels = decoder(latent)
        yield pixels_to_frames(pixels)
        return
    for pixels in tiled_decode(decoder, latent, tiling):
        yield pixels_to_frames(pixels)
