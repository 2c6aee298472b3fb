"""What each frame looks like and how it differs from the one before: colour, sharpness, change, structure, motion.

Frames are fed one at a time; only the previous frame is kept, and each frame leaves a handful of numbers:

* CIE L*a*b* mean and spread (standard deviation over pixels), from sRGB with the D65 white point;
* sharpness: the variance of the luma Laplacian (3x3, 4-neighbour);
* frame difference: mean absolute RGB difference to the previous frame, in 8-bit code values;
* structural similarity (SSIM) of the luma to the previous frame, with a 7x7 uniform window and the usual
  constants (K1 0.01, K2 0.03);
* motion: pixels per frame at the analysis size, the mean length of a Lucas-Kanade translation fitted to each
  8x8 block that has texture in both directions (one Lucas-Kanade step: within about 10 % up to a pixel per frame,
  less exact beyond; a measure to compare chunks with, not an optical flow).
"""

from __future__ import annotations

import numpy as np

_LUMA = np.array([0.299, 0.587, 0.114], np.float32)
"""BT.601 luma weights (the metrics' grey picture)."""
_SRGB_TO_XYZ = np.array(
    [[0.4124564, 0.3575761, 0.1804375], [0.2126729, 0.7151522, 0.0721750], [0.0193339, 0.1191920, 0.9503041]], np.float32
)
_D65_WHITE = np.array([0.95047, 1.0, 1.08883], np.float32)
_EPSILON = (6 / 29) ** 3
MOTION_BLOCK = 8
MOTION_TEXTURE = 1.0
"""A block counts for motion when its weaker gradient direction averages at least this (code values per pixel)^2."""


def _linear_lut() -> np.ndarray:
    c = np.arange(256, dtype=np.float64) / 255
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4).astype(np.float32)


_LINEAR = _linear_lut()


def srgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """[..., 3] uint8 sRGB -> [..., 3] float32 CIE L*a*b* (D65)."""
    xyz = _LINEAR[rgb] @ _SRGB_TO_XYZ.T / _D65_WHITE
    f = np.where(xyz > _EPSILON, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], axis=-1)


def luma(rgb: np.ndarray) -> np.ndarray:
    """[h, w, 3] uint8 -> [h, w] float32 luma in 0..255."""
    return rgb.astype(np.float32) @ _LUMA


def _box_mean(x: np.ndarray, k: int) -> np.ndarray:
    """Means of every k x k window that fits inside ``x`` (the 'valid' region)."""
    c = np.pad(x.astype(np.float64), ((1, 0), (1, 0))).cumsum(0).cumsum(1)
    return (c[k:, k:] - c[:-k, k:] - c[k:, :-k] + c[:-k, :-k]) / (k * k)


def ssim(x: np.ndarray, y: np.ndarray, window: int = 7, data_range: float = 255.0) -> float:
    """Mean structural similarity of two [h, w] grey pictures (1 for identical pictures)."""
    k = min(window, *x.shape)
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    mx, my = _box_mean(x, k), _box_mean(y, k)
    vx, vy = _box_mean(x * x, k) - mx * mx, _box_mean(y * y, k) - my * my
    cxy = _box_mean(x * y, k) - mx * my
    s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    return float(s.mean())


def laplacian_variance(y: np.ndarray) -> float:
    """Variance of the 4-neighbour Laplacian of a grey picture: higher is sharper."""
    lap = y[:-2, 1:-1] + y[2:, 1:-1] + y[1:-1, :-2] + y[1:-1, 2:] - 4 * y[1:-1, 1:-1]
    return float(lap.var())


def _block_sums(x: np.ndarray, block: int) -> np.ndarray:
    h, w = (x.shape[0] // block) * block, (x.shape[1] // block) * block
    return x[:h, :w].reshape(h // block, block, w // block, block).sum((1, 3))


def motion_magnitude(previous: np.ndarray, current: np.ndarray, block: int = MOTION_BLOCK) -> float:
    """Mean displacement in pixels per frame between two grey pictures: a Lucas-Kanade translation per block of
    ``block`` x ``block`` pixels, over the blocks with texture in both directions (0 when none has any)."""
    gy, gx = np.gradient((previous + current) / 2)
    gt = current - previous
    a, b, c = _block_sums(gx * gx, block), _block_sums(gx * gy, block), _block_sums(gy * gy, block)
    p, q = _block_sums(gx * gt, block), _block_sums(gy * gt, block)
    smallest = (a + c) / 2 - np.sqrt(((a - c) / 2) ** 2 + b * b)
    textured = smallest > block * block * MOTION_TEXTURE
    if not textured.any():
        return 0.0
    det = (a * c - b * b)[textured]
    u = (c * p - b * q)[textured] / det
    v = (a * q - b * p)[textured] / det
    return float(np.hypot(u, v).mean())


class PictureSignals:
    """Per-frame picture numbers of a video, fed frame by frame (index i of a pair signal compares frame i-1 with i;
    frame 0 has none and holds NaN there)."""

    def __init__(self):
        self.lab_mean: list[np.ndarray] = []
        self.lab_spread: list[np.ndarray] = []
        self.sharpness: list[float] = []
        self.difference: list[float] = []
        self.similarity: list[float] = []
        self.motion: list[float] = []
        self._previous: tuple[np.ndarray, np.ndarray] | None = None

    def add(self, rgb: np.ndarray) -> None:
        lab = srgb_to_lab(rgb).reshape(-1, 3)
        self.lab_mean.append(lab.mean(0))
        self.lab_spread.append(lab.std(0))
        grey = luma(rgb)
        self.sharpness.append(laplacian_variance(grey))
        if self._previous is None:
            self.difference.append(np.nan)
            self.similarity.append(np.nan)
            self.motion.append(np.nan)
        else:
            before, before_grey = self._previous
            self.difference.append(float(np.abs(rgb.astype(np.int16) - before).mean()))
            self.similarity.append(ssim(before_grey, grey))
            self.motion.append(motion_magnitude(before_grey, grey))
        self._previous = (rgb.astype(np.int16), grey)

    def __len__(self) -> int:
        return len(self.sharpness)

    def arrays(self) -> dict[str, np.ndarray]:
        """Every signal as an array over frames: ``lab_mean`` and ``lab_spread`` [N, 3], the others [N]."""
        return {
            "lab_mean": np.array(self.lab_mean, np.float64).reshape(-1, 3),
            "lab_spread": np.array(self.lab_spread, np.float64).reshape(-1, 3),
            "sharpness": np.array(self.sharpness),
            "difference": np.array(self.difference),
            "similarity": np.array(self.similarity),
            "motion": np.array(self.motion),
        }
