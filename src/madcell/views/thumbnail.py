"""One low-resolution RGB overview ("thumbnail") per slide, made while ``prepare`` streams the slide.

* size: the slide's pixels averaged in ``t x t`` blocks, ``t = ceil(longest side / HIRES_MAX)`` (at
  least 1), so the longest side is at most 2000 px (the Visium ``hires`` convention) and a slide that
  small keeps its full size; thumbnail pixel ``(i, j)`` is the mean of slide pixels
  ``[i t, (i + 1) t) x [j t, (j + 1) t)`` (a partial last block: of its own pixels). Its ``scale``
  is ``1 / t`` thumbnail px per slide px.
* values: the *normalised* channels (the same per-channel ``lo``/``hi`` and flat field as the views,
  :class:`~madcell.views.normalize.ChannelNorm`), mixed to RGB by :func:`channel_colours`: a 3-channel
  image named R, G, B (H&E) stays RGB, one channel is grey, otherwise each channel adds its fixed
  colour (blue, red, green, yellow, magenta, cyan, orange, grey, then again), clipped to 0-1 - the
  same false colours as the view grid of :mod:`madcell.report.views`. Then 0-1 -> uint8 0-255.

Block means are linear, so they are taken per channel and mixed afterwards (memory ~ one tile plus
the (3, h, w) sums; nothing grows with the channel count). The materialised store gets its thumbnails
from one more streaming pass over each slide (:func:`slide_thumbnail`); the lazy store makes them
on read from the pyramid of normalised slides it keeps anyway (:meth:`madcell.data.lazy.LazyViews.thumbnail`).
"""

from __future__ import annotations

import math

import numpy as np

from madcell.io.base import SlideData
from madcell.views.normalize import ChannelNorm, read_channels

HIRES_MAX = 2000  # longest thumbnail side (px)
COLOURS = np.array([[0.2, 0.4, 1.0], [1.0, 0.3, 0.3], [0.3, 1.0, 0.3], [1.0, 0.85, 0.2],
                    [1.0, 0.3, 1.0], [0.3, 1.0, 1.0], [1.0, 0.6, 0.2], [0.7, 0.7, 0.7]], np.float32)


def channel_colours(names: list[str]) -> np.ndarray:
    """(C, 3) RGB weight of each channel (see the module docstring)."""
    C = len(names)
    if C == 1:
        return np.ones((1, 3), np.float32)
    if C == 3 and [str(c).upper() for c in names] == ["R", "G", "B"]:
        return np.eye(3, dtype=np.float32)
    return COLOURS[np.arange(C) % len(COLOURS)]


def thumbnail_factor(H: int, W: int, longest: int = HIRES_MAX) -> int:
    """Slide pixels per thumbnail pixel (per axis) so that the longest side is at most ``longest``."""
    return max(1, math.ceil(max(H, W) / longest))


def block_sums(x: np.ndarray, start: int, t: int, axis: int) -> tuple[np.ndarray, int]:
    """Sums of ``x`` along ``axis`` over the blocks ``[k t, (k + 1) t)`` its pixels ``start..`` fall in;
    returns the sums and the first block's index."""
    pos = np.arange(start, start + x.shape[axis]) // t
    cuts = np.flatnonzero(np.diff(pos)) + 1
    return np.add.reduceat(x, np.concatenate([[0], cuts]), axis=axis), int(pos[0])


class ThumbnailAccumulator:
    """Block means of a (H, W) slide, fed every pixel exactly once in windows of any size and offset."""

    def __init__(self, shape: tuple[int, int], names: list[str], longest: int = HIRES_MAX):
        self.H, self.W = (int(v) for v in shape)
        self.t = thumbnail_factor(self.H, self.W, longest)
        self.colours = channel_colours(names)
        self.sums = np.zeros((3, -(-self.H // self.t), -(-self.W // self.t)), np.float32)

    @property
    def scale(self) -> float:
        """Thumbnail px per slide px."""
        return 1.0 / self.t

    def add(self, win: np.ndarray, y0: int, x0: int) -> None:
        """Add a normalised (C, h, w) window whose top-left slide pixel is (y0, x0) (inside the slide)."""
        rows, by = block_sums(np.asarray(win, np.float32), y0, self.t, 1)
        part, bx = block_sums(rows, x0, self.t, 2)
        rgb = np.tensordot(self.colours.T, part, axes=(1, 0))  # (3, nby, nbx)
        self.sums[:, by:by + rgb.shape[1], bx:bx + rgb.shape[2]] += rgb

    def image(self) -> np.ndarray:
        """(h, w, 3) uint8 RGB: block means, clipped to 0-1, times 255."""
        t = self.t
        ny = np.minimum(np.arange(1, self.sums.shape[1] + 1) * t, self.H) - np.arange(self.sums.shape[1]) * t
        nx = np.minimum(np.arange(1, self.sums.shape[2] + 1) * t, self.W) - np.arange(self.sums.shape[2]) * t
        mean = self.sums / (ny[:, None] * nx[None, :]).astype(np.float32)
        return np.rint(np.clip(mean, 0.0, 1.0) * 255.0).astype(np.uint8).transpose(1, 2, 0).copy()


def slide_thumbnail(slide: SlideData, channels: list[int], names: list[str], norm: ChannelNorm, tile: int,
                    progress=None) -> ThumbnailAccumulator:
    """One streaming pass over ``slide`` (tiles of ``tile`` px, memory ~ one tile) into a thumbnail."""
    _, H, W = slide.image.shape
    acc = ThumbnailAccumulator((H, W), names)
    for y0 in range(0, H, tile):
        for x0 in range(0, W, tile):
            y1, x1 = min(y0 + tile, H), min(x0 + tile, W)
            acc.add(norm.apply(read_channels(slide, channels, y0, y1, x0, x1), y0, x0, (H, W)), y0, x0)
            if progress is not None:
                progress((y1 - y0) * (x1 - x0))
    return acc
