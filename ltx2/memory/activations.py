"""Working memory of each phase of a render, from the geometry alone: bytes, not counting weights.

Every estimate walks the engine's own code in the order it allocates and frees tensors and counts what is
held at the moment memory peaks (what :mod:`ltx2.memory.measure` counts on a run).

* DiT forward: the peak sits in a block's feed-forward (the 4x wide hidden layer, while the block's input,
  its post-attention states, the A/V cross-attention's normalised states and the per-token modulation rows are
  still held), or for short videos in the text cross-attention (keys and values over the text tokens).
* Video VAE: the peak sits in the widest resolution's convolutions (each 3x3x3 conv holds its input, a
  time-padded copy, a spatially padded copy with ``reflect`` padding, and its output), or for narrow decoders
  in the float32 conversion of the pixels. Tiled decoding adds the float32 blend buffer of a temporal tile
  and the pieces it hands out.
* Gemma: every hidden state is kept, then stacked: twice the stack, or the last layer's MLP.

Checked against measured peaks (tests/test_activations.py): the tiny checkpoints' modules on the CPU and
full-width modules on fake tensors agree within 3%; at full size, 121 frames of 768 x 512 in bf16, DiT forward
0.978 GiB (19B) / 0.966 GiB (2.3), untiled decode 5.01 / 4.27 GiB, 25-frame encode 0.95 GiB, Gemma over 1024
tokens 0.72 GiB, as the research brief measured.

Not counted: kernels' own workspaces (cuDNN, attention), the allocator's rounding and fragmentation, and the
CUDA context; normalisations are counted as the composite ``rms_norm`` runs them (float32 copies; a fused GPU
kernel holds less). Batch 1 throughout except the DiT's ``batch`` (guidance passes run together).
"""

from __future__ import annotations

import math

from ..model.transformer import TransformerConfig
from ..model.vae_tiling import AxisTiling, VideoTiling, split_axis
from ..model.video_vae import _STRIDES, VideoVAEConfig, _log_var_channels

FP32 = 4
INDEX = 8  # int64


# ----------------------------------------------------------------------------------------------------------
# DiT


def _norm_scratch(elements: int, dtype_bytes: int) -> int:
    """q/k RMSNorm with a weight: the input plus float32 tensors: normalised, weighted, and (below float32) the
    upcast copy."""
    return elements * (dtype_bytes + (2 if dtype_bytes == FP32 else 3) * FP32)


def dit_forward_peak(
    transformer_cfg: dict, video_tokens: int, audio_tokens: int, text_tokens: int, batch: int, dtype_bytes: int, *, fp8_weights: bool = False
) -> int:
    """Peak bytes of one DiT forward over ``batch`` samples (guidance passes batched together).

    Held by every block: per token the block's input, the timestep embedding the output head needs, the RoPE
    cos/sin of the stream and of the A/V cross-attention; on LTX-2 the caption-projected text contexts.
    ``fp8_weights``: the block Linears are :class:`~ltx2.model.fp8_linear.Fp8Linear` rebuilding their weight in
    each call (a float32 copy and its scaled product, 8 bytes per parameter, once per call whatever the batch);
    the largest, the feed-forward's output Linear, is rebuilt while the hidden layer is held.
    """
    cfg = TransformerConfig.from_config(transformer_cfg)
    d, da, cross = cfg.dim, cfg.audio_dim, cfg.audio_cross_attention_dim
    tv, ta, s, e = video_tokens, audio_tokens, text_tokens, dtype_bytes
    ff = 4  # FeedForward width multiplier
    held = tv * ((3 * d + cross) * e + INDEX) + ta * ((3 * da + cross) * e + INDEX)
    if cfg.caption_projection:
        held += s * (d + da) * e
    # After the A/V cross-attention a stream holds its post-text state, its norm, its A/V output sum and two
    # modulation rows (the V->A rows of both streams; audio also the V->A output and its gate row).
    after_av_video, after_av_audio = 5 * d, 7 * da
    modulated = 3 + 1  # three modulation rows and the modulated input of a feed-forward
    # (bytes per sample, bytes per call) at each candidate moment
    moments = [
        ((tv * (after_av_video + (modulated + 2 * ff) * d) + ta * after_av_audio) * e, 0),  # video hidden layer before / after GELU
        ((tv * after_av_video + ta * (after_av_audio + (modulated + 2 * ff) * da)) * e, 0),  # audio hidden layer
    ]
    # Video text cross-attention, while the keys are normalised: state, norm, query (2.3 adds three
    # modulation rows and the modulated query) and over the text: values, keys (2.3: the modulated context).
    adaln = cfg.cross_attention_adaln
    moments.append((tv * (7 if adaln else 3) * d * e + s * d * ((2 if adaln else 1) * e) + _norm_scratch(s * d, e), 0))
    if fp8_weights:
        rebuild = 2 * FP32 * ff
        moments.append(((tv * (after_av_video + (modulated + ff) * d) + ta * after_av_audio) * e, rebuild * d * d))
        moments.append(((tv * after_av_video + ta * (after_av_audio + (modulated + ff) * da)) * e, rebuild * da * da))
    return max(batch * (held + per_sample) + per_call for per_sample, per_call in moments)


# ----------------------------------------------------------------------------------------------------------
# Video VAE


Grid = tuple[int, int, int]
"""(frames, height, width) of a tensor at some resolution."""


class _Tally:
    """Bytes live along a sequence of allocations and frees, and the most live at any moment."""

    def __init__(self):
        self.now = self.peak = 0

    def alloc(self, *sizes: int) -> None:
        for size in sizes:
            self.now += size
            self.peak = max(self.peak, self.now)

    def free(self, *sizes: int) -> None:
        self.now -= sum(sizes)


def _conv(t: _Tally, c_in: int, c_out: int, grid: Grid, e: int, reflect: bool) -> int:
    """CausalConv3d: a copy padded by two frames (and with ``reflect`` a spatially padded copy of that) lives
    while the conv runs; returns the output's bytes."""
    f, h, w = grid
    padded = c_in * (f + 2) * h * w * e
    spatial = c_in * (f + 2) * (h + 2) * (w + 2) * e if reflect else 0
    out = c_out * f * h * w * e
    t.alloc(padded, spatial, out)
    t.free(padded, spatial)
    return out


def _pixel_norm(t: _Tally, size: int, positions: int) -> None:
    """x * x and its channel mean, then the quotient (the mean's sqrt alive): leaves the result allocated."""
    t.alloc(size, positions)
    t.free(size)
    t.alloc(size)
    t.free(positions)


def _res_block(t: _Tally, c: int, grid: Grid, e: int, reflect: bool) -> None:
    """x + conv2(SiLU(norm(conv1(SiLU(norm(x)))))) with x held: leaves the sum allocated."""
    positions = grid[0] * grid[1] * grid[2] * e
    size = c * positions
    _pixel_norm(t, size, positions)
    t.alloc(size)  # SiLU
    _conv(t, c, c, grid, e, reflect)
    t.free(size, size)  # SiLU and the norm; conv1's output stays
    _pixel_norm(t, size, positions)
    t.free(size)  # conv1's output
    t.alloc(size)
    _conv(t, c, c, grid, e, reflect)
    t.free(size, size)
    t.alloc(size)  # the residual sum
    t.free(size)  # conv2's output


def _res_stage(t: _Tally, c: int, grid: Grid, layers: int, e: int, reflect: bool) -> None:
    """``layers`` residual blocks; the stage's input stays held by the caller's loop until the stage returns."""
    size = c * math.prod(grid) * e
    for j in range(layers):
        _res_block(t, c, grid, e, reflect)
        if j:
            t.free(size)  # the previous block's output


def _depth_to_space_up(t: _Tally, c: int, grid: Grid, stride: Grid, multiplier: int, residual: bool, e: int, reflect: bool) -> tuple[int, Grid, int]:
    """Conv to prod(stride) * c / multiplier channels, its depth-to-space copy, and with ``residual`` the input's
    depth-to-space repeated to the output width and the sum; returns the output's channels, grid and bytes held
    (without ``residual`` a view that drops the first frame of the copy, which it keeps alive)."""
    f, h, w = grid
    product = math.prod(stride)
    conv = _conv(t, c, product * c // multiplier, grid, e, reflect)
    t.alloc(conv)  # depth-to-space copy
    t.free(conv)
    out_grid = (f * stride[0] - (1 if stride[0] == 2 else 0), h * stride[1], w * stride[2])
    channels = c // multiplier
    if not residual:
        return channels, out_grid, conv
    moved = c * f * h * w * e
    repeated = moved * product // multiplier
    t.alloc(moved, repeated)
    t.free(moved)
    total = channels * math.prod(out_grid) * e
    t.alloc(total)
    t.free(repeated, conv)
    return channels, out_grid, total


def _decoder(t: _Tally, cfg: VideoVAEConfig, latent: Grid, e: int) -> int:
    """VideoDecoder.forward on a latent grid, leaving the pixels allocated; returns their bytes."""
    reflect = cfg.decoder_padding == "reflect"
    width = cfg.decoder_base_channels * math.prod(p.get("multiplier", 1) for n, p in cfg.decoder_blocks if n.startswith("compress_"))
    grid = latent
    size = cfg.latent_channels * math.prod(grid) * e
    t.alloc(size, size)  # denormalise: x * std, + mean
    t.free(size)
    x = _conv(t, cfg.latent_channels, width, grid, e, reflect)
    t.free(size)
    for name, params in reversed(cfg.decoder_blocks):
        if name == "res_x":
            if not params["num_layers"]:
                continue
            _res_stage(t, width, grid, params["num_layers"], e, reflect)
            out = width * math.prod(grid) * e
        else:
            stride = _STRIDES[name.removeprefix("compress_")]
            width, grid, out = _depth_to_space_up(t, width, grid, stride, params.get("multiplier", 1), params.get("residual", False), e, reflect)
        t.free(x)  # the block's input
        x = out
    _pixel_norm(t, x, math.prod(grid) * e)
    t.free(x)
    t.alloc(x)  # SiLU
    out = _conv(t, width, cfg.out_channels * cfg.patch_size**2, grid, e, reflect)
    t.free(x, x)
    t.alloc(out)  # unpatchify copy
    t.free(out)
    return out


def _to_frames(t: _Tally, pixels: int, e: int) -> int:
    """pixels_to_frames: float32 (a copy below float32), + 1, * 0.5, clamp; leaves the frames allocated."""
    f32 = pixels // e * FP32
    if e != FP32:
        t.alloc(f32)
    t.alloc(f32)
    if e != FP32:
        t.free(f32)
    for _ in range(2):
        t.alloc(f32)
        t.free(f32)
    return f32


def _tiled_decode(cfg: VideoVAEConfig, latent: Grid, tiling: VideoTiling, e: int) -> int:
    """tiled_decode + decode_frames: per temporal tile its spatial tiles decoded one at a time into the float32
    blend buffer (RGB over the frames the tile reaches), then the frames no later tile touches normalised,
    converted and yielded. The previous piece (decode_frames' loop variable) and its weight normaliser stay
    held while the next temporal tile decodes. Spatial tiles of one shape cost the same, so each shape is
    walked once per temporal tile."""
    (ft, fh, fw), (lf, lh, lw) = cfg.scale_factors(), latent
    t_spans = split_axis(lf, tiling.frames.latent(ft, "frames"), causal=True)
    rows, cols = split_axis(lh, tiling.height.latent(fh, "height")), split_axis(lw, tiling.width.latent(fw, "width"))
    shapes = {(hs.end - hs.start, ws.end - ws.start) for hs in rows for ws in cols}
    plane = lh * fh * lw * fw * FP32  # one float32 channel of one frame
    channels = cfg.out_channels
    t = _Tally()
    done = buffered = 0  # frames yielded; frames in the blend buffer
    piece = norm = 0  # bytes of the last yielded piece and of its normaliser
    for i, ts in enumerate(t_spans):
        stop = (ts.end - 1) * ft + 1
        if stop - done > buffered:  # grow the buffer: zeros, then the concatenation
            grow = stop - done - buffered
            t.alloc(channels * grow * plane, channels * (buffered + grow) * plane)
            t.free(channels * grow * plane, channels * buffered * plane)
            buffered += grow
        for th, tw in shapes:
            tile = _decoder(t, cfg, (ts.end - ts.start, th, tw), e)
            weights = ((ts.end - ts.start - 1) * ft + 1) * th * fh * tw * fw * FP32
            upcast = tile // e * FP32 if e != FP32 else 0
            t.alloc(upcast, weights, channels * weights)  # tile.float() * weights
            t.free(upcast, weights, channels * weights, tile)
        ready = t_spans[i + 1].start * ft if i + 1 < len(t_spans) else (lf - 1) * ft + 1
        if ready > done:
            n = ready - done
            t.alloc(n * plane)  # the new normaliser replaces the old one
            t.free(norm)
            norm = n * plane
            t.alloc(channels * n * plane)  # buffer / normaliser
            if e != FP32:
                t.alloc(channels * n * plane // FP32 * e)  # .to(dtype)
                t.free(channels * n * plane)
            t.free(piece)  # decode_frames moves on to the new piece
            piece = channels * n * plane // FP32 * e
            t.free(_to_frames(t, piece, e))
            t.alloc(channels * (buffered - n) * plane)  # buffer = buffer[n:].clone()
            t.free(channels * buffered * plane)
            buffered -= n
            done = ready
    return t.peak


def _untiled_decode(cfg: VideoVAEConfig, latent: Grid, e: int) -> int:
    """decode_frames without tiling: the decoder on the whole latent, then the frames of its pixels."""
    t = _Tally()
    pixels = _decoder(t, cfg, latent, e)
    _to_frames(t, pixels, e)
    return t.peak


def _latent_grid(cfg: VideoVAEConfig, frames: int, height: int, width: int) -> Grid:
    ft, fh, fw = cfg.scale_factors()
    if (frames - 1) % ft or height % fh or width % fw:
        raise ValueError(f"video VAE: need {ft}k+1 frames and sizes that are multiples of {fh}x{fw}, got {frames} frames of {height}x{width}")
    return (frames - 1) // ft + 1, height // fh, width // fw


def vae_decode_peak(config: dict, frames: int, height: int, width: int, tiling: VideoTiling | None, dtype_bytes: int) -> int:
    """Peak bytes of ``decode_frames`` on a clip of ``frames`` x ``height`` x ``width`` pixels (``tiling`` None:
    untiled), each yielded piece dropped by the caller before the next. Frames a caller keeps are its own: 12
    bytes per pixel (float32 RGB), twice that while it concatenates them."""
    cfg = VideoVAEConfig.from_checkpoint_config(config)
    latent = _latent_grid(cfg, frames, height, width)
    if tiling is None:
        return _untiled_decode(cfg, latent, dtype_bytes)
    return _tiled_decode(cfg, latent, tiling, dtype_bytes)


def _space_to_depth_down(t: _Tally, c: int, out: int, grid: Grid, stride: Grid, e: int, reflect: bool) -> Grid:
    """SpaceToDepthDown with its input held: the time-padded copy (time strides), the skip's space-to-depth copy
    and channel mean, the conv, its space-to-depth copy and the sum; leaves the sum allocated, returns its grid."""
    f, h, w = grid
    if stride[0] == 2:
        f += 1
        t.alloc(c * f * h * w * e)
    padded = c * f * h * w * e
    product = math.prod(stride)
    skip = padded * out // (c * product)
    t.alloc(padded, skip)  # space-to-depth copy, averaged over channel groups
    t.free(padded)
    conv = _conv(t, c, out // product, (f, h, w), e, reflect)
    t.alloc(conv)  # space-to-depth copy
    t.free(conv)
    t.alloc(skip)  # the sum
    t.free(conv, skip, padded if stride[0] == 2 else 0)
    return f // stride[0], h // stride[1], w // stride[2]


def _encoder(t: _Tally, cfg: VideoVAEConfig, pixels: Grid, e: int) -> int:
    """VideoEncoder.forward on a pixel grid (the pixels held by the caller), leaving the normalised latent
    allocated; returns its bytes."""
    reflect = cfg.encoder_padding == "reflect"
    p = cfg.patch_size
    grid = (pixels[0], pixels[1] // p, pixels[2] // p)
    patched = cfg.in_channels * math.prod(pixels) * e
    t.alloc(patched)
    width = cfg.latent_channels
    x = _conv(t, cfg.in_channels * p * p, width, grid, e, reflect)
    t.free(patched)
    for name, params in cfg.encoder_blocks:
        if name == "res_x":
            _res_stage(t, width, grid, params["num_layers"], e, reflect)
            if not params["num_layers"]:
                continue
        else:
            out = width * params.get("multiplier", 2)
            grid = _space_to_depth_down(t, width, out, grid, _STRIDES[name[len("compress_") : -len("_res")]], e, reflect)
            width = out
        t.free(x)  # the block's input
        x = width * math.prod(grid) * e
    positions = math.prod(grid) * e
    _pixel_norm(t, x, positions)
    t.alloc(x)  # SiLU
    t.free(x)  # the norm
    channels = cfg.latent_channels + _log_var_channels(cfg.latent_log_var, cfg.latent_channels)
    means = _conv(t, width, channels, grid, e, reflect)
    t.free(x, x)  # SiLU, the last block's output
    latent = cfg.latent_channels * positions
    t.alloc(latent, latent)  # normalise: x - mean, / std
    t.free(latent, means)
    return latent


def _to_pixels(t: _Tally, frames: int, height: int, width: int, e: int) -> int:
    """frames_to_pixels (* 2, - 1 in float32) and the cast to the weights' dtype; leaves the pixels allocated."""
    f32 = 3 * frames * height * width * FP32
    t.alloc(f32, f32)
    t.free(f32)
    if e != FP32:
        t.alloc(f32 // FP32 * e)
        t.free(f32)
    return f32 // FP32 * e


def vae_encode_peak(config: dict, frames: int, height: int, width: int, tiling: VideoTiling | None, dtype_bytes: int) -> int:
    """Peak bytes of ``encode_frames`` on float32 frames [frames, height, width, 3] (the input not counted)."""
    cfg = VideoVAEConfig.from_checkpoint_config(config)
    (ft, fh, fw), e = cfg.scale_factors(), dtype_bytes
    lf, lh, lw = _latent_grid(cfg, frames, height, width)
    t = _Tally()
    _to_pixels(t, frames, height, width, e)
    if tiling is None:
        _encoder(t, cfg, (frames, height, width), e)
        return t.peak
    t_spans = split_axis(lf, tiling.frames.latent(ft, "frames"), causal=True)
    h_spans = split_axis(lh, tiling.height.latent(fh, "height"))
    w_spans = split_axis(lw, tiling.width.latent(fw, "width"))
    acc = cfg.latent_channels * lf * lh * lw * FP32
    t.alloc(acc)
    tile = 0  # the previous tile's latent stays bound while the next one encodes
    for ts in t_spans:
        for hs in h_spans:
            for ws in w_spans:
                new = _encoder(t, cfg, ((ts.end - ts.start - 1) * ft + 1, (hs.end - hs.start) * fh, (ws.end - ws.start) * fw), e)
                t.free(tile)
                tile = new
                weights = (ts.end - ts.start) * (hs.end - hs.start) * (ws.end - ws.start) * FP32
                upcast = tile // e * FP32 if e != FP32 else 0
                t.alloc(upcast, weights, cfg.latent_channels * weights)  # tile.float() * weights
                t.free(upcast, weights, cfg.latent_channels * weights)
    t.alloc(acc // cfg.latent_channels, acc)  # normaliser, quotient
    if e != FP32:
        t.alloc(acc // FP32 * e)
    return t.peak


SPATIAL_TILES = (2048, 1536, 1280, 1024, 768, 640, 512, 384, 256)
"""Spatial tile sizes (px) ``tiling_for_budget`` tries below the whole frame, largest first."""
TEMPORAL_TILES = (512, 384, 256, 192, 160, 128, 96, 80, 64, 48, 32)
"""Temporal tile sizes (frames) it tries below the whole clip, largest first."""


def _spatial_overlap(size: int) -> int:
    """64 px as the default's 768 px tiles have (1/12 of a tile), growing with larger tiles in steps of 32."""
    return max(64, size // 12 // 32 * 32)


def _temporal_overlap(size: int) -> int:
    """About 30% of the tile as the default's 24 of 80 frames, in steps of 8, at least 16."""
    return max(16, round(0.3 * size / 8) * 8)


def standard_tiling(frames: int, pixels: int) -> VideoTiling:
    """Tiles of ``frames`` frames and ``pixels`` x ``pixels`` (0: that axis untiled) with the overlaps the automatic
    choice uses: like the reference default's (24 of 80 frames, 64 of 768 px), scaled with the tile, and never
    below tiled encoding's minimums (16 frames, 64 px), so one tiling serves decode and encode."""
    space = AxisTiling(pixels, _spatial_overlap(pixels) if pixels else 0)
    return VideoTiling(AxisTiling(frames, _temporal_overlap(frames) if frames else 0), space, space)


MIN_TILE_PIXELS, MIN_TILE_FRAMES = 96, 24
"""The smallest tiles :func:`standard_tiling` can make (larger than their 64 px / 16-frame overlaps)."""


def fixed_tiling(pixels: int, frames: int) -> VideoTiling:
    """A user's tile sizes with the standard overlaps; an axis given as 0 takes the reference default's size
    (768 px, 80 frames)."""
    default = VideoTiling.default()
    return standard_tiling(frames or default.frames.size, pixels or default.height.size)


def tiling_candidates(frames: int, height: int, width: int) -> list[VideoTiling]:
    """Tilings from largest to smallest tiles: the spatial size kept as large as possible, shrinking the temporal
    tile first (each list starts with the axis untiled)."""
    spatial = [0] + [s for s in SPATIAL_TILES if s < max(height, width)]
    temporal = [0] + [f for f in TEMPORAL_TILES if f < frames - 1]
    return [standard_tiling(f, s) for s in spatial for f in temporal if s or f]


def tiling_for_budget(config: dict, frames: int, height: int, width: int, budget_bytes: int, dtype_bytes: int) -> VideoTiling | None:
    """None when the untiled decode fits ``budget_bytes`` or the video is too small to tile; else the first of
    :func:`tiling_candidates` whose tiled decode fits, or the smallest tiling when none does."""
    if vae_decode_peak(config, frames, height, width, None, dtype_bytes) <= budget_bytes:
        return None
    candidates = tiling_candidates(frames, height, width)
    if not candidates:
        return None
    return next((t for t in candidates if vae_decode_peak(config, frames, height, width, t, dtype_bytes) <= budget_bytes), candidates[-1])


# ----------------------------------------------------------------------------------------------------------
# Gemma


def text_encode_peak(gemma_config: dict, tokens: int, dtype_bytes: int) -> int:
    """Peak bytes of ``GemmaEncoder.hidden_states`` on one prompt padded to ``tokens``: the HF forward keeping
    every hidden state, then their stack (the feature extractor that reads it is not counted).

    The larger of: the stack (two copies of all layers + 1 states); the last layer's MLP (the states so far,
    the post-attention sum, its norm, GELU(gate), up and their product, plus the RoPE tables of each attention
    type and a boolean mask per type); the final norm (the states and its float32 scratch)."""
    d, inner, layers = gemma_config["hidden_size"], gemma_config["intermediate_size"], gemma_config["num_hidden_layers"]
    head_dim = gemma_config.get("head_dim", d // gemma_config["num_attention_heads"])
    kinds = len(set(gemma_config.get("layer_types", ["sliding_attention", "full_attention"])))
    e, state = dtype_bytes, tokens * d * dtype_bytes
    tables = kinds * (2 * tokens * head_dim * e + tokens * tokens)
    mlp = (layers + 2) * state + 3 * tokens * inner * e + tables
    scratch = (1 if e == FP32 else 2) * tokens * d * FP32
    final_norm = (layers + 1) * state + scratch + tables
    return max(2 * (layers + 1) * state, mlp, final_norm)
