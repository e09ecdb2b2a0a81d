"""Per-channel intensity normalisation with statistics of the whole slide, never of one cell.

Per-cell rescaling would erase exactly what distinguishes cells (a bright marker, a pale nucleus),
so every cell of a slide is scaled by the same per-channel values:

1. optional flat-field correction: the slide is block-averaged to a coarse grid (one full streaming
   pass), blurred with a Gaussian of ``flatfield_sigma_um`` and normalised to mean 1 per channel;
   every window is divided by that background, bilinearly upsampled;
2. ``lo``/``hi`` = the ``clip_percentiles`` of a deterministic sample of whole tiles (about
   ``stats_sample_pixels`` pixels per channel, after the flat-field correction);
3. ``(x - lo) / (hi - lo)`` clipped to 0-1; pixels outside the slide stay 0.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from madcell.errors import InputError
from madcell.io.base import SlideData

SAMPLE_TILE = 256        # side of the tiles sampled for the percentiles
FLAT_GRID_MAX = 2048     # longest side of the coarse flat-field grid


def read_channels(slide: SlideData, channels: list[int], y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
    """(len(channels), h, w) float32 window; unreadable data and NaN become an InputError."""
    try:
        win = slide.image.read(y0, y1, x0, x1)
    except InputError:
        raise
    except (OSError, ValueError, RuntimeError, EOFError) as exc:
        raise InputError(slide.source, f"image could not be read at rows {y0}:{y1}, cols {x0}:{x1} ({exc})") from exc
    win = np.asarray(win)
    if win.shape != (slide.image.shape[0], y1 - y0, x1 - x0):
        raise InputError(slide.source, f"image reader returned a {win.shape} window for rows {y0}:{y1}, cols {x0}:{x1}")
    # always a fresh float32 copy: windows are normalised in place
    out = np.array(win[channels] if channels != list(range(win.shape[0])) else win, dtype=np.float32)
    if win.dtype.kind in "fc" and not np.isfinite(out).all():
        raise InputError(slide.source, f"image has NaN or infinite pixels in rows {y0}:{y1}, cols {x0}:{x1}")
    return out


@dataclass
class ChannelNorm:
    """The per-channel transform of one slide (see the module docstring)."""

    lo: np.ndarray                       # (C,)
    hi: np.ndarray                       # (C,)
    background: np.ndarray | None = None  # (C, h, w) coarse flat field, mean 1 per channel
    factor: int = 1                       # full-resolution pixels per coarse pixel

    def _background(self, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
        """Bilinear upsampling of the coarse field over a window (edge values held outside)."""

        def axis(n: int, a: int, b: int):
            u = (np.arange(a, b) + 0.5) / self.factor - 0.5
            i0 = np.floor(u).astype(np.int64)
            w = (u - i0).astype(np.float32)
            return np.clip(i0, 0, n - 1), np.clip(i0 + 1, 0, n - 1), w

        bg = self.background
        iy0, iy1, wy = axis(bg.shape[1], y0, y1)
        ix0, ix1, wx = axis(bg.shape[2], x0, x1)
        rows = bg[:, iy0] * (1 - wy)[None, :, None] + bg[:, iy1] * wy[None, :, None]
        return rows[:, :, ix0] * (1 - wx) + rows[:, :, ix1] * wx

    def apply(self, win: np.ndarray, y0: int, x0: int, shape: tuple[int, int]) -> np.ndarray:
        """Normalise a float32 (C, h, w) window whose top-left pixel is (y0, x0), in place."""
        H, W = shape
        h, w = win.shape[1:]
        if self.background is not None:
            win /= self._background(y0, y0 + h, x0, x0 + w)
        win -= self.lo[:, None, None].astype(np.float32)
        win *= (1.0 / (self.hi - self.lo))[:, None, None].astype(np.float32)
        np.clip(win, 0.0, 1.0, out=win)
        # the zero fill outside the slide is not "intensity 0": force it to 0 after the shift
        if y0 < 0:
            win[:, : min(-y0, h)] = 0
        if y0 + h > H:
            win[:, max(H - y0, 0):] = 0
        if x0 < 0:
            win[:, :, : min(-x0, w)] = 0
        if x0 + w > W:
            win[:, :, max(W - x0, 0):] = 0
        return win

    def to_json(self, names: list[str]) -> dict:
        return {n: {"lo": float(a), "hi": float(b)} for n, a, b in zip(names, self.lo, self.hi)}


def sample_windows(H: int, W: int, n_pixels: int, tile: int = SAMPLE_TILE) -> list[tuple[int, int, int, int]]:
    """Deterministic sample of whole tiles (inside the slide) holding about ``n_pixels`` pixels."""
    ys = range(0, H, tile)
    xs = range(0, W, tile)
    boxes = [(y, min(y + tile, H), x, min(x + tile, W)) for y in ys for x in xs]
    need = math.ceil(n_pixels / float(tile * tile))
    if need >= len(boxes):
        return boxes
    pick = np.sort(np.random.default_rng(0).choice(len(boxes), size=need, replace=False))
    return [boxes[i] for i in pick]


def flat_field(slide: SlideData, channels: list[int], sigma_um: float, tile: int) -> tuple[np.ndarray, int]:
    """Coarse background (C, h, w) with mean 1 per channel, and its downsampling factor."""
    C = len(channels)
    _, H, W = slide.image.shape
    sigma_px = sigma_um / float(slide.pixel_size_um)
    f = max(1, int(round(sigma_px / 4)), math.ceil(max(H, W) / FLAT_GRID_MAX))
    hc, wc = math.ceil(H / f), math.ceil(W / f)
    sums = np.zeros((C, hc, wc), np.float64)
    counts = np.zeros((hc, wc), np.float64)
    step = max(f, (tile // f) * f)
    for y0 in range(0, H, step):
        for x0 in range(0, W, step):
            y1, x1 = min(y0 + step, H), min(x0 + step, W)
            win = read_channels(slide, channels, y0, y1, x0, x1)
            ny, nx = math.ceil((y1 - y0) / f), math.ceil((x1 - x0) / f)
            pad = np.zeros((C, ny * f, nx * f), np.float32)
            pad[:, : y1 - y0, : x1 - x0] = win
            one = np.zeros((ny * f, nx * f), np.float32)
            one[: y1 - y0, : x1 - x0] = 1
            cy, cx = y0 // f, x0 // f
            sums[:, cy:cy + ny, cx:cx + nx] += pad.reshape(C, ny, f, nx, f).sum(axis=(2, 4))
            counts[cy:cy + ny, cx:cx + nx] += one.reshape(ny, f, nx, f).sum(axis=(1, 3))
    mean = sums / np.maximum(counts, 1)
    bg = np.stack([ndimage.gaussian_filter(m, sigma_px / f, mode="nearest") for m in mean])
    level = bg.reshape(C, -1).mean(axis=1)
    bg = np.where(level[:, None, None] > 0, bg / np.where(level > 0, level, 1)[:, None, None], 1.0)
    return np.maximum(bg, 1e-3).astype(np.float32), f


def compute_norm(slide: SlideData, channels: list[int], cfg: dict) -> ChannelNorm:
    """The slide's :class:`ChannelNorm` from a tile sample (and a flat-field pass if enabled)."""
    _, H, W = slide.image.shape
    background, factor = None, 1
    if cfg["flatfield"]:
        background, factor = flat_field(slide, channels, float(cfg["flatfield_sigma_um"]), int(cfg["tile_size"]))
    norm = ChannelNorm(np.zeros(len(channels)), np.ones(len(channels)), background, factor)
    parts = []
    for y0, y1, x0, x1 in sample_windows(H, W, int(cfg["stats_sample_pixels"])):
        win = read_channels(slide, channels, y0, y1, x0, x1)
        if background is not None:
            win /= norm._background(y0, y1, x0, x1)
        parts.append(win.reshape(len(channels), -1))
    values = np.concatenate(parts, axis=1)
    lo_q, hi_q = (float(q) for q in cfg["clip_percentiles"])
    lo, hi = np.percentile(values, [lo_q, hi_q], axis=1).astype(np.float64)
    flat = ~(hi > lo)
    if flat.any():  # a blank or saturated channel carries nothing: say so instead of all-zero views
        import warnings

        names = slide.image.channel_names if hasattr(slide.image, "channel_names") else None
        which = [str(names[channels[i]]) if names else f"#{channels[i]}" for i in np.flatnonzero(flat)]
        warnings.warn(f"{slide.source}: channel(s) {', '.join(which)} of slide {slide.slide_id!r} are constant "
                      f"({', '.join(f'{v:g}' for v in lo[flat])}) over {values.shape[1]} sampled pixels: their views "
                      "will be all zero (a blank stain, a wrong channel, or an image that underflowed?)")
    hi = np.where(hi > lo, hi, lo + 1.0)  # a constant channel maps to 0
    norm.lo, norm.hi = lo, hi
    return norm
