"""Window geometry: how large the microenvironment window is, and how a slide is cut into work units.

Microenvironment side (the rule). For cells scattered with local density ρ, the disc around a cell
whose radius is the distance ``d_K`` to its K-th nearest neighbour holds on average K neighbours,
and its area is π·d_K². The square of the *same area*, side ``√π · d_K`` ≈ 1.77·d_K, therefore
holds about K neighbours plus the cell itself. ``per_slide`` uses one side for the whole slide, from
the median ``d_K`` over its cells (every view then has the same µm per pixel), rounded to a multiple of
:func:`lattice_quantum` so that views can be cut from the slide on the fly on a short lattice
(:mod:`madcell.views.cut`); ``per_cell`` uses each
cell's own ``d_K``, clipped to [¼, 4]× the slide's side so an isolated cell does not get a huge window.

Work units. The slide is cut into square tiles (``tile_size``, shrunk where needed so that the
upsampled window of a tile stays within a fixed memory budget); a cell belongs to the tile holding
its centroid pixel. A tile holding more cells than a unit's output budget is split into quadrants,
recursively. Units are ordered row-major by tile (quadrants top-left, top-right, bottom-left,
bottom-right) and cells keep their table order inside a unit: this is the order of the store.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

SQRT_PI = math.sqrt(math.pi)
RESIZED_BUDGET_BYTES = 768 * 2**20   # upsampled microenvironment window of one unit
OUTPUT_BUDGET_BYTES = 192 * 2**20    # raw views produced by one unit
MIN_UNIT_SIDE = 32


def lattice_quantum(micro_size: int) -> int:
    """``micro_size / d`` for the largest divisor ``d <= 8`` of ``micro_size``: a ``per_slide`` side that is a
    multiple of it has ``gcd(side, micro_size) >= micro_size / 8`` (lattice period of at most 8 output pixels)."""
    d = max(k for k in range(1, 9) if micro_size % k == 0)
    return micro_size // d


def micro_sides(xy: np.ndarray, k: int, mode: str, extent: tuple[int, int], workers: int = 1,
                quantum: int = 1) -> np.ndarray:
    """Integer window side (pixels) of every cell's microenvironment view (rule: module docstring);
    ``quantum``: the ``per_slide`` side is rounded to a multiple of it."""
    n = len(xy)
    kk = min(int(k), n - 1)
    if kk < 1:  # a single cell: the window is the slide
        return np.full(n, max(extent), dtype=np.int64)
    dist, _ = cKDTree(xy).query(xy, k=[kk + 1], workers=max(1, workers))
    dk = dist[:, 0]
    base = max(1, int(round(SQRT_PI * float(np.median(dk)))))
    if mode == "per_slide":
        q = max(1, int(quantum))
        return np.full(n, max(q, int(round(base / q)) * q), dtype=np.int64)
    sides = np.rint(SQRT_PI * dk)
    return np.clip(sides, max(1, base // 4), base * 4).astype(np.int64)


def micro_halo(side: int, micro_size: int) -> int:
    """Margin around a unit's core that holds every window of side ``side`` centred inside the core."""
    return side // 2 + math.ceil(side / (2.0 * micro_size)) + 2


def unit_tile_side(tile_size: int, side: int, micro_size: int, n_channels: int, out_bytes: int) -> int:
    """Largest tile side <= ``tile_size`` whose upsampled window (per_slide path) fits the budget."""
    f = max(1.0, micro_size / side)
    per_px = 4 + n_channels * out_bytes          # one float32 channel at a time + all output channels
    max_window = math.sqrt(RESIZED_BUDGET_BYTES / per_px) / f
    fit = int(max_window) - 2 * micro_halo(side, micro_size) - side
    return max(MIN_UNIT_SIDE, min(int(tile_size), fit))


@dataclass
class Unit:
    """One work unit: a core box of one slide and the cells whose centroid pixel lies in it."""

    slide: int
    y0: int
    y1: int
    x0: int
    x1: int
    cells: np.ndarray  # row indices into the slide's cell table, in table order


def centroid_pixels(xy: np.ndarray, extent: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(row, col) of the pixel holding each centroid (pixel centres at integer coordinates)."""
    H, W = extent
    r = np.clip(np.floor(xy[:, 1] + 0.5), 0, H - 1).astype(np.int64)
    c = np.clip(np.floor(xy[:, 0] + 0.5), 0, W - 1).astype(np.int64)
    return r, c


def plan_units(slide_index: int, xy: np.ndarray, extent: tuple[int, int], tile: int, max_cells: int) -> list[Unit]:
    """Work units of one slide (order and splitting rule: module docstring)."""
    H, W = extent
    r, c = centroid_pixels(xy, extent)
    ntx = math.ceil(W / tile)
    tid = (r // tile) * ntx + (c // tile)
    order = np.argsort(tid, kind="stable")
    bounds = np.flatnonzero(np.diff(tid[order])) + 1
    units: list[Unit] = []

    def split(y0: int, y1: int, x0: int, x1: int, cells: np.ndarray) -> None:
        if len(cells) <= max_cells or max(y1 - y0, x1 - x0) <= MIN_UNIT_SIDE:
            units.append(Unit(slide_index, y0, y1, x0, x1, cells))
            return
        ym, xm = (y0 + y1) // 2, (x0 + x1) // 2
        for a, b, e, g in ((y0, ym, x0, xm), (y0, ym, xm, x1), (ym, y1, x0, xm), (ym, y1, xm, x1)):
            inside = cells[(r[cells] >= a) & (r[cells] < b) & (c[cells] >= e) & (c[cells] < g)]
            if len(inside):
                split(a, b, e, g, inside)

    for group in np.split(order, bounds):
        if len(group) == 0:
            continue
        t = int(tid[group[0]])
        ty, tx = divmod(t, ntx)
        split(ty * tile, min((ty + 1) * tile, H), tx * tile, min((tx + 1) * tile, W), np.sort(group))
    return units
