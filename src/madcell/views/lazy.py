"""``prepare --views lazy``: write the normalised slide once plus a per-cell geometry table, instead of
two resized crops per cell. :class:`madcell.data.lazy.LazyViews` cuts the views from them on the fly.

In the store (next to the per-cell datasets every store has)::

    lazy/slides/<k>/0     (C, h, w) uint8 normalised slide k (0-255 <-> 0-1); contiguous when
                          uncompressed (read through a memory map), else chunked (C, 256, 256) + LZF.
                          Only the part its cells' views read (:meth:`GeometryWriter.slide_box`, on the
                          256-px grid): attr ``origin`` = its first slide row and column ([0, 0] and the
                          whole slide unless the cells cover only part of it, e.g. ``region_um``)
    lazy/slides/<k>/1..   pyramid: each level the 2x2 mean of the one above (for viewers and
                          overviews; views are cut from level 0)
    lazy/micro/<k>        (C, h, w) uint8, ``per_slide`` stores with ``lazy_micro_level`` (the default):
                          level 0 resized by M / S onto the slide's microenvironment lattice, so a
                          microenvironment view is a plain crop of it (no resize on read); attrs
                          ``origin`` (lattice index of its first row and column), ``S``, ``M``.
                          (M / S)² times level 0's bytes; stored like level 0; only the lattice
                          pixels the views cover. When S = M it is a link to level 0 (no resize,
                          no copy; its ``origin`` is level 0's)
    lazy/slide_index (N,)  int32, which slide each cell is on
    lazy/morph_box  (N, 3) int64, morphology crop: first row, first column, side (slide pixels)
    lazy/micro_box  (N, 3) int64, microenvironment: first lattice row, column, side S (per_slide)
                          or first source row, column, side (per_cell)
    lazy/mask_offset (N + 1,) int64 and lazy/mask_bits (uint8): each cell's crop mask, np.packbits
    attrs lazy: micro_scale, levels

The slide thumbnail is not stored again: :meth:`madcell.data.lazy.LazyViews.thumbnail` makes it from the
pyramid (``thumbnails/`` of :mod:`madcell.data.thumbnail` would duplicate a level of a small slide).

The slide is written tile by tile (memory ~ one tile), so memory does not grow with the slide. A store
of a few cells of a large section (``region_um``) holds their neighbourhood, not the section.

Why the micro level: resizing each view's window on read was ~80 % of a lazy read at the paper's sizes
(70 / 224 px: 3.0 of 3.4 ms per cell, one thread), which left the lazy loader behind the materialised
one (BENCHMARKS.md "Scale"). The level is made from level 0 with the arithmetic of the on-read cut
(:func:`madcell.views.cut.lattice_window`), so its crops are the views that cut gave.
"""

from __future__ import annotations

import math

import h5py
import numpy as np
import torch

from madcell.io.base import SlideData, read_window
from madcell.views.cut import lattice_window
from madcell.views.normalize import ChannelNorm, read_channels
from madcell.views.resize import quantize, resize

CHUNK = 256
MIN_LEVEL_SIDE = 512  # pyramid levels stop once the slide's longer side is below this


def n_levels(H: int, W: int) -> int:
    n = 1
    while max(H, W) >> n >= MIN_LEVEL_SIDE and n < 6:
        n += 1
    return n


def _block_mean(x: np.ndarray, f: int) -> np.ndarray:
    """(C, h, w) float -> (C, ceil(h/f), ceil(w/f)) mean of f x f blocks (partial blocks: their own pixels)."""
    C, h, w = x.shape
    hh, ww = -(-h // f) * f, -(-w // f) * f
    pad = np.zeros((C, hh, ww), np.float32)
    pad[:, :h, :w] = x
    cnt = np.zeros((hh, ww), np.float32)
    cnt[:h, :w] = 1
    s = pad.reshape(C, hh // f, f, ww // f, f).sum((2, 4))
    return s / cnt.reshape(hh // f, f, ww // f, f).sum((1, 3))


def _uint8(x: np.ndarray) -> np.ndarray:
    return quantize(torch.from_numpy(x), "uint8")  # rounded as the materialised views are


def _level(group: h5py.Group, name: str, shape: tuple[int, int, int], compression: str | None) -> h5py.Dataset:
    """A (C, h, w) uint8 level: contiguous (memory-mapped on read) or chunked (C, 256, 256) + LZF."""
    if compression is None:
        return group.create_dataset(name, shape, np.uint8)
    C, h, w = shape
    return group.create_dataset(name, shape, np.uint8, chunks=(C, min(CHUNK, h), min(CHUNK, w)), compression="lzf")


def write_slide(group: h5py.Group, slide: SlideData, channels: list[int], norm: ChannelNorm, compression: str | None,
                tile: int, progress=None, box: tuple[int, int, int, int] | None = None) -> int:
    """Write the normalised slide and its pyramid into ``group``; returns the number of levels.

    ``box``: (y0, y1, x0, x1), the part to store (y0, x0 on the 256-px grid); default the whole slide."""
    _, H, W = slide.image.shape
    by0, by1, bx0, bx1 = (0, H, 0, W) if box is None else box
    assert by0 % CHUNK == 0 and bx0 % CHUNK == 0, box
    C = len(channels)
    L = n_levels(by1 - by0, bx1 - bx0)
    tile = max(CHUNK, tile // CHUNK * CHUNK)  # a multiple of 2 ** (L - 1) <= 32: the levels stay block-aligned
    ds = [_level(group, str(k), (C, -(-(by1 - by0) // 2 ** k), -(-(bx1 - bx0) // 2 ** k)),
                 compression if k == 0 else "lzf") for k in range(L)]
    ds[0].attrs["origin"] = [by0, bx0]
    for y0 in range(by0, by1, tile):
        for x0 in range(bx0, bx1, tile):
            y1, x1 = min(y0 + tile, by1), min(x0 + tile, bx1)
            win = norm.apply(read_channels(slide, channels, y0, y1, x0, x1), y0, x0, (H, W))
            ry, rx = y0 - by0, x0 - bx0
            ds[0][:, ry:ry + win.shape[1], rx:rx + win.shape[2]] = _uint8(win)
            part = win
            for k in range(1, L):  # each level from the unrounded one above (tiles are block-aligned)
                part = _block_mean(part, 2)
                f = 2 ** k
                ds[k][:, ry // f:ry // f + part.shape[1], rx // f:rx // f + part.shape[2]] = _uint8(part)
            if progress is not None:
                progress((y1 - y0) * (x1 - x0))
    return L


def origin(level) -> tuple[int, int]:
    """First slide row and column (or lattice index, for a micro level) a stored level starts at."""
    o = level.attrs.get("origin", (0, 0))
    return int(o[0]), int(o[1])


def micro_extent(n: int, S: int, M: int) -> tuple[int, int]:
    """(first, end) lattice indices along a slide side of ``n`` pixels outside which every lattice pixel
    is 0: its resize filter (``max(S/M, 1)`` source pixels) reaches only the zeros around the slide."""
    reach = max(S / M, 1.0) + 1.0
    return math.floor((-reach + 0.5) * M / S - 0.5) - 1, math.ceil((n - 1 + reach + 0.5) * M / S - 0.5) + 2


def micro_pixels(extent: tuple[int, int, int, int], S: int, M: int) -> int:
    """Lattice pixels (per channel) that :func:`write_micro_level` resizes: none when it links (S = M)."""
    y0, y1, x0, x1 = extent
    return 0 if S == M else (y1 - y0) * (x1 - x0)


def write_micro_level(group: h5py.Group, k: int, level0, S: int, M: int, compression: str | None,
                      tile: int = 1024, progress=None, extent: tuple[int, int, int, int] | None = None) -> None:
    """``lazy/micro/<k>``: slide ``k``'s level 0 resized by M / S onto its lattice, tile by tile.

    ``extent``: (y0, y1, x0, x1) lattice pixels to store (:meth:`GeometryWriter.micro_extent`); default
    every one a level 0 at origin (0, 0) can reach."""
    if S == M:  # the lattice is the slide's own grid: the level would copy level 0, so link to it
        group[str(k)] = h5py.SoftLink(level0.name)
        level0.attrs.update({"origin": list(origin(level0)), "S": S, "M": M})
        return
    C, H, W = level0.shape
    (oy0, ey), (ox0, ex) = (micro_extent(H, S, M), micro_extent(W, S, M)) if extent is None else \
        (extent[:2], extent[2:])
    h, w = ey - oy0, ex - ox0
    sy, sx = origin(level0)
    ds = _level(group, str(k), (C, h, w), compression)
    ds.attrs.update({"origin": [oy0, ox0], "S": S, "M": M})
    T = max(64, min(tile, int(2048 * M / S)))  # source windows stay ~2k px
    for r in range(0, h, T):
        ty = min(T, h - r)
        y0, Ly, Lyo, oy = lattice_window(np.array([oy0 + r]), S, M, ty)
        for c in range(0, w, T):
            tx = min(T, w - c)
            x0, Lx, Lxo, ox = lattice_window(np.array([ox0 + c]), S, M, tx)
            wy, wx = int(y0[0]) - sy, int(x0[0]) - sx
            win = read_window(level0, wy, wy + Ly, wx, wx + Lx)
            big = resize(torch.from_numpy(win).to(torch.float32).mul_(1.0 / 255.0)[None], (Lyo, Lxo))[0]
            ds[:, r:r + ty, c:c + tx] = quantize(big[:, oy[0]:oy[0] + ty, ox[0]:ox[0] + tx].clamp_(0, 1), "uint8")
            if progress is not None:
                progress(ty * tx)


class GeometryWriter:
    """Appends the lazy geometry of consecutive cells (units arrive in store order) and keeps, per
    slide, the bounds of what their views read (:meth:`slide_box`, :meth:`micro_extent`)."""

    def __init__(self, h5: h5py.File, n_cells: int, micro_scale: str, micro_size: int):
        g = h5.require_group("lazy")
        g.attrs["micro_scale"] = micro_scale
        self.g, self.per_slide, self.M = g, micro_scale == "per_slide", int(micro_size)
        self.bounds: dict[int, dict] = {}  # slide -> {"morph": [y0, y1, x0, x1], "micro": [...], "S": side}
        g.create_dataset("slide_index", (n_cells,), np.int32)
        g.create_dataset("morph_box", (n_cells, 3), np.int64)
        g.create_dataset("micro_box", (n_cells, 3), np.int64)
        self.offset = g.create_dataset("mask_offset", (n_cells + 1,), np.int64)
        self.bits = g.create_dataset("mask_bits", (0,), np.uint8, maxshape=(None,), chunks=(1 << 16,))
        self.offset[0] = 0
        self.slides = g.create_group("slides")

    def write(self, start: int, slide: int, res: dict) -> None:
        n = len(res["morph_box"])
        sl = slice(start, start + n)
        self.g["slide_index"][sl] = slide
        self.g["morph_box"][sl] = res["morph_box"]
        self.g["micro_box"][sl] = res["micro_box"]
        sizes = np.array([len(m) for m in res["masks"]], np.int64)
        end = int(self.offset[start])
        self.offset[start + 1:start + n + 1] = end + np.cumsum(sizes)
        self.bits.resize((end + int(sizes.sum()),))
        if n:
            self.bits[end:] = np.concatenate(res["masks"])
            self._grow(slide, res["morph_box"], res["micro_box"])

    def _grow(self, slide: int, morph: np.ndarray, micro: np.ndarray) -> None:
        b = self.bounds.setdefault(slide, {"morph": [math.inf, -math.inf] * 2, "micro": [math.inf, -math.inf] * 2,
                                           "S": int(micro[0, 2])})
        # micro: per_slide, lattice pixels of the views; per_cell, the source windows
        for key, box, side in (("morph", morph, morph[:, 2]), ("micro", micro, self.M if self.per_slide else micro[:, 2])):
            lo, hi = box[:, :2].min(0), (box[:, :2] + np.asarray(side).reshape(-1, 1)).max(0)
            v = b[key]
            v[:] = [min(v[0], lo[0]), max(v[1], hi[0]), min(v[2], lo[1]), max(v[3], hi[1])]

    def micro_extent(self, slide: int, shape: tuple[int, int]) -> tuple[int, int, int, int]:
        """(y0, y1, x0, x1) lattice pixels of slide ``slide``'s micro level (``per_slide``): the cells'
        views, without the lattice pixels the slide cannot reach (:func:`micro_extent`)."""
        b, M = self.bounds[slide], self.M
        (ay, ey), (ax, ex) = micro_extent(shape[0], b["S"], M), micro_extent(shape[1], b["S"], M)
        y0, y1, x0, x1 = (int(v) for v in b["micro"])  # views centred on cells on the slide: they overlap it
        return max(y0, ay), min(y1, ey), max(x0, ax), min(x1, ex)

    def slide_box(self, slide: int, shape: tuple[int, int]) -> tuple[int, int, int, int]:
        """(y0, y1, x0, x1) of slide ``slide`` (shape (H, W)) that its cells' views read: morphology crops
        and microenvironment windows (``per_slide``: their lattice windows, :func:`lattice_window`, plus two
        lattice blocks), widened to the 256-px grid and clipped to the slide."""
        b = self.bounds[slide]
        lo, hi = [b["morph"][0], b["morph"][2]], [b["morph"][1], b["morph"][3]]
        if self.per_slide:
            S, M = b["S"], self.M
            y0, y1, x0, x1 = (int(v) for v in b["micro"])
            first, L, _, _ = lattice_window(np.array([y0, x0]), S, M)
            last, _, _, _ = lattice_window(np.array([y1 - M, x1 - M]), S, M)
            pad = 2 * S // math.gcd(S, M)
            lo, hi = np.minimum(lo, first - pad), np.maximum(hi, last + L + pad)
        else:
            lo, hi = np.minimum(lo, b["micro"][0::2]), np.maximum(hi, b["micro"][1::2])
        (y0, x0), (y1, x1) = (max(0, int(v) // CHUNK * CHUNK) for v in lo), (-(-int(v) // CHUNK) * CHUNK for v in hi)
        return y0, min(shape[0], y1), x0, min(shape[1], x1)  # non-empty: every cell's crop holds its centroid
