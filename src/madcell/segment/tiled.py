"""Tiled segmentation with a halo: streams over a whole slide with memory bounded by the tile.

The slide is cut into ``tile x tile`` cores. For each core, the window ``core ± halo`` is read, its
nuclei are segmented and expanded into approximate cells (:func:`skimage.segmentation.expand_labels`:
each nucleus grows by up to ``expand_px`` pixels, never into another cell), and only the objects
whose **nucleus centroid lies in the core** are kept. Every object therefore has exactly one owner
tile, and the halo (:func:`halo_px`, several nucleus diameters plus twice the expansion) gives its
segmentation the same context it would have in the whole image.

Kept objects get slide-wide labels (a running counter) and are written into two ``uint32``
canvases on disk (:class:`Canvas`), cells and nuclei, then streamed into tiled TIFFs.
Windows of neighbouring tiles overlap, and two tiles may disagree slightly about an object near the
seam, so writing is first come, first served: a pixel already labelled is never overwritten, and a
new object whose nucleus lies mostly (>= half) on nuclei already written is the same nucleus seen
again from the other side of the seam and is dropped. A nucleus pixel is written only where its own
cell was, so every nucleus lies inside its cell and shares its label.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from madcell.synthetic.writer import TileSpool
from madcell.utils.progress import Progress

DUPLICATE_OVERLAP = 0.5  # a new nucleus lying this much on written nuclei is a duplicate


def halo_px(diameter_px: float, expand_px: float) -> int:
    """Context around a tile core: the segmenter looks ~3 d around a pixel, a kept nucleus reaches
    ~d / 2 past the core, its cell ``expand_px`` further, against neighbours expanding as much."""
    return int(np.ceil(4.0 * diameter_px + 2.0 * expand_px))


class Canvas(TileSpool):
    """A (height, width) uint32 label image in a raw scratch file of ``tile x tile`` tiles
    (:class:`madcell.synthetic.writer.TileSpool`: written with ``pwrite``, so the page cache, not
    the process, holds it). Windows are read and written tile by tile, and
    :func:`madcell.synthetic.writer.write_tiff` streams it into a tiled TIFF."""

    def __init__(self, path: Path, height: int, width: int, tile: int = 256):
        super().__init__(Path(path), 1, int(height), int(width), tile, np.uint32)
        os.ftruncate(self.fd, self.nty * self.ntx * self.tile_bytes)  # all zero (a sparse file)

    def _pieces(self, y0: int, y1: int, x0: int, x1: int):
        """(tile row, tile col, slices in the tile, slices in the window) of each tile the window touches."""
        t = self.tile
        for ty in range(y0 // t, (y1 - 1) // t + 1):
            for tx in range(x0 // t, (x1 - 1) // t + 1):
                ya, yb, xa, xb = max(y0, ty * t), min(y1, ty * t + t), max(x0, tx * t), min(x1, tx * t + t)
                yield (ty, tx, (slice(ya - ty * t, yb - ty * t), slice(xa - tx * t, xb - tx * t)),
                       (slice(ya - y0, yb - y0), slice(xa - x0, xb - x0)))

    def read(self, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
        out = np.empty((y1 - y0, x1 - x0), self.dtype)
        for ty, tx, in_tile, in_window in self._pieces(y0, y1, x0, x1):
            out[in_window] = self.read_tile(0, ty, tx)[in_tile]
        return out

    def write(self, y0: int, x0: int, block: np.ndarray) -> None:
        for ty, tx, in_tile, in_window in self._pieces(y0, y0 + block.shape[0], x0, x0 + block.shape[1]):
            tile = self.read_tile(0, ty, tx).copy()
            tile[in_tile] = block[in_window]
            self.put_block(ty * self.tile, tx * self.tile, tile[None])


def _centroids(inv: np.ndarray, n: int, y0: int, x0: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pixel count and global centroid (row, column) of each compact label ``0..n-1`` of a window."""
    rows, cols = np.indices(inv.shape)
    count = np.bincount(inv.ravel(), minlength=n)
    safe = np.maximum(count, 1)
    cy = np.bincount(inv.ravel(), weights=rows.ravel(), minlength=n) / safe + y0
    cx = np.bincount(inv.ravel(), weights=cols.ravel(), minlength=n) / safe + x0
    return count, cy, cx


def segment_tiles(image, segmenter: Callable[[np.ndarray], np.ndarray], diameter_px: float, expand_px: float,
                  tile: int, cells: Canvas, nuclei: Canvas, progress: bool = True) -> pd.DataFrame:
    """Segment ``image`` tile by tile into the ``cells`` / ``nuclei`` canvases; returns one row per
    written cell: ``label``, ``area_px``, ``nucleus_area_px``, cell centroid ``x_px``, ``y_px``."""
    from skimage.segmentation import expand_labels

    _, H, W = image.shape
    halo = halo_px(diameter_px, expand_px)
    cores = [(y, min(y + tile, H), x, min(x + tile, W)) for y in range(0, H, tile) for x in range(0, W, tile)]
    next_label, rows = 1, []
    with Progress("segment", len(cores), unit="tiles", enabled=progress) as bar:
        for ty0, ty1, tx0, tx1 in cores:
            wy0, wy1, wx0, wx1 = max(ty0 - halo, 0), min(ty1 + halo, H), max(tx0 - halo, 0), min(tx1 + halo, W)
            nuc = segmenter(image.read(wy0, wy1, wx0, wx1))
            cell = expand_labels(nuc, expand_px) if expand_px > 0 else nuc
            ids, nuc_inv = np.unique(nuc, return_inverse=True)
            nuc_inv = nuc_inv.reshape(nuc.shape)
            cell_inv = np.searchsorted(ids, cell)
            area, cy, cx = _centroids(nuc_inv, len(ids), wy0, wx0)
            old_n, old_c = nuclei.read(wy0, wy1, wx0, wx1), cells.read(wy0, wy1, wx0, wx1)
            on_old = np.bincount(nuc_inv.ravel(), weights=(old_n > 0).ravel(), minlength=len(ids))
            keep = ((ids > 0) & (cy >= ty0) & (cy < ty1) & (cx >= tx0) & (cx < tx1)
                    & (on_old < DUPLICATE_OVERLAP * area))
            new = np.zeros(len(ids), np.uint32)
            new[keep] = np.arange(next_label, next_label + keep.sum(), dtype=np.uint32)
            next_label += int(keep.sum())
            g_cell, g_nuc = new[cell_inv], new[nuc_inv]
            put_c = (g_cell > 0) & (old_c == 0)
            old_c[put_c] = g_cell[put_c]
            put_n = (g_nuc > 0) & (old_n == 0) & (old_c == g_nuc)
            old_n[put_n] = g_nuc[put_n]
            cells.write(wy0, wx0, old_c)
            nuclei.write(wy0, wx0, old_n)
            rows.append(_written(old_c, put_c, old_n, put_n, wy0, wx0))
            bar.advance(1, info=f"{next_label - 1} cells")
    return pd.concat(rows, ignore_index=True)


def _written(cells: np.ndarray, put_c: np.ndarray, nuclei: np.ndarray, put_n: np.ndarray,
             y0: int, x0: int) -> pd.DataFrame:
    """Stats of the cells written by one tile (all their pixels are written in this one step)."""
    labels, inv = np.unique(cells[put_c], return_inverse=True)
    rows, cols = np.nonzero(put_c)
    area = np.bincount(inv, minlength=len(labels))
    nuc_area = np.bincount(np.searchsorted(labels, nuclei[put_n]), minlength=len(labels))
    return pd.DataFrame({
        "label": labels.astype(np.int64), "area_px": area, "nucleus_area_px": nuc_area,
        "x_px": (np.bincount(inv, weights=cols, minlength=len(labels)) / area + x0),
        "y_px": (np.bincount(inv, weights=rows, minlength=len(labels)) / area + y0),
    })
