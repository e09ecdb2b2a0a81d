"""Random fields that can be evaluated on any window of the slide, identically whatever the tiling.

Two kinds are needed to render tile by tile without seams:

* :class:`FourierField` — a smooth field, a sum of random plane waves with wavelengths in a physical
  range (µm). It is analytic, so any pixel or cell position can be evaluated independently (tissue
  regions, fibre orientation, illumination).
* :func:`block_noise` / :func:`smooth_noise` — white Gaussian noise defined on a fixed global grid
  of blocks, each block drawn from its own generator keyed by (seed, stream, block row, block col).
  Any window (a tile plus its halo) is assembled from those blocks, so neighbouring tiles see the
  same noise in their overlap and filtering it gives no seam.
"""

from __future__ import annotations

import functools

import numpy as np
from scipy import ndimage

NOISE_BLOCK = 128


class FourierField:
    """Zero-mean, unit-variance smooth random field: ``sqrt(2/n) * sum_k cos(2π f_k·p + φ_k)``."""

    def __init__(self, rng: np.random.Generator, wavelength_um: tuple[float, float], n_waves: int = 12):
        lo, hi = wavelength_um
        # log-uniform wavelengths, uniform directions and phases
        wl = np.exp(rng.uniform(np.log(lo), np.log(hi), n_waves))
        ang = rng.uniform(0, 2 * np.pi, n_waves)
        self.kx = 2 * np.pi * np.cos(ang) / wl
        self.ky = 2 * np.pi * np.sin(ang) / wl
        self.phase = rng.uniform(0, 2 * np.pi, n_waves)
        self.scale = np.sqrt(2.0 / n_waves)

    def __call__(self, x_um: np.ndarray, y_um: np.ndarray) -> np.ndarray:
        x = np.asarray(x_um, dtype=np.float64)
        y = np.asarray(y_um, dtype=np.float64)
        out = np.zeros(np.broadcast(x, y).shape)
        for kx, ky, ph in zip(self.kx, self.ky, self.phase):
            out += np.cos(kx * x + ky * y + ph)
        return out * self.scale


    def grid(self, x_um: np.ndarray, y_um: np.ndarray) -> np.ndarray:
        """The field on the grid ``y_um[:, None] x x_um[None, :]``, from separable 1-D factors:
        cos(a + b) = cos a cos b - sin a sin b (no BLAS, which thrashes on a busy machine)."""
        ax = np.outer(np.asarray(x_um, np.float64), self.kx)  # (w, n)
        ay = np.outer(np.asarray(y_um, np.float64), self.ky) + self.phase  # (h, n)
        cx, sx, cy, sy = (v.astype(np.float32) for v in (np.cos(ax), np.sin(ax), np.cos(ay), np.sin(ay)))
        out = np.zeros((len(ay), len(ax)), np.float32)
        for k in range(len(self.kx)):
            out += np.multiply.outer(cy[:, k], cx[:, k])
            out -= np.multiply.outer(sy[:, k], sx[:, k])
        return out * np.float32(self.scale)


def block_noise(seed: int, stream: int, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
    """Standard normal white noise (float32) of the global pixel window [y0:y1, x0:x1]."""
    out = np.empty((y1 - y0, x1 - x0), dtype=np.float32)
    B = NOISE_BLOCK
    for by in range(y0 // B, (y1 - 1) // B + 1):
        for bx in range(x0 // B, (x1 - 1) // B + 1):
            # negative block indices (halo past the top/left edge) are shifted into a valid key
            key = [seed, stream, by + 2**20, bx + 2**20]
            block = np.random.default_rng(key).standard_normal((B, B), dtype=np.float32)
            gy0, gx0 = by * B, bx * B
            sy0, sy1 = max(y0, gy0), min(y1, gy0 + B)
            sx0, sx1 = max(x0, gx0), min(x1, gx0 + B)
            out[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] = block[sy0 - gy0 : sy1 - gy0, sx0 - gx0 : sx1 - gx0]
    return out


@functools.lru_cache(maxsize=64)
def _filtered_std(sigma: tuple[float, float]) -> float:
    """Standard deviation of unit white noise after ``gaussian_filter(sigma)`` (from the kernel)."""
    size = int(8 * max(sigma) + 9) | 1
    delta = np.zeros((size, size))
    delta[size // 2, size // 2] = 1.0
    return float(np.sqrt((ndimage.gaussian_filter(delta, sigma) ** 2).sum()))


def smooth_noise(seed: int, stream: int, y0: int, y1: int, x0: int, x1: int, sigma_px: tuple[float, float]) -> np.ndarray:
    """Unit-variance Gaussian-filtered noise on the window ``[y0:y1, x0:x1]``; the raw noise is read
    with a margin of the kernel radius, so every tile gets exactly the same values in overlaps."""
    m = int(np.ceil(4 * max(sigma_px)))
    raw = block_noise(seed, stream, y0 - m, y1 + m, x0 - m, x1 + m)
    out = ndimage.gaussian_filter(raw, sigma_px, mode="nearest")[m : m + y1 - y0, m : m + x1 - x0]
    return out / np.float32(_filtered_std(tuple(float(s) for s in sigma_px)))
