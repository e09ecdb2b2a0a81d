"""Tiling with a halo: small tiles give the objects of the whole image, each exactly once."""

from __future__ import annotations

import numpy as np
import pandas as pd
import tifffile
from scipy import ndimage

from madcell.segment import match_labels, segment
from madcell.segment.tiled import Canvas, segment_tiles

TILE = 64


def test_small_tiles_match_whole_image(he_tissue, tmp_path):
    folder = he_tissue[0]
    whole = segment(folder / "image.ome.tif", tmp_path / "whole", tile_size=4096, progress=False)
    tiled = segment(folder / "image.ome.tif", tmp_path / "tiled", tile_size=TILE, progress=False)
    assert whole["n_cells"] > 250
    a, b = (tifffile.imread(tmp_path / d / "labels.tif") for d in ("whole", "tiled"))
    m = match_labels(a, b, 0.9)
    assert abs(tiled["n_cells"] - whole["n_cells"]) <= 2
    assert m.f1 >= 0.99, m  # measured 1.0 (identical objects): the halo covers the method's reach
    # no cell appears twice: every label is one object, listed once
    table = pd.read_csv(tmp_path / "tiled" / "cells.csv")
    assert table["label"].is_unique and len(table) == tiled["n_cells"]


class _DisagreeingView:
    """A one-channel image of discs; windows not at the left edge see everything 1 px to the right,
    as two tiles segmenting the same nucleus from either side of a seam may disagree."""

    def __init__(self, labels):
        self.labels = labels
        self.shape, self.dtype, self.channel_names = (1,) + labels.shape, labels.dtype, ["ch0"]

    def read(self, y0, y1, x0, x1):
        win = self.labels[y0:y1, x0:x1]
        return (np.roll(win, 1, axis=1) if x0 > 0 else win)[None]


def _discs(size=192, radius=6):
    yy, xx = np.mgrid[:size, :size]
    centres = [(20, 63.5), (100, 63.5), (63.5, 127.5), (150, 30), (150, 100), (30, 170), (127.5, 127.5)]
    labels = np.zeros((size, size), np.int32)
    for i, (cy, cx) in enumerate(centres, 1):
        labels[(yy - cy) ** 2 + (xx - cx) ** 2 <= radius**2] = i
    return labels


def test_seam_objects_are_written_once(tmp_path):
    truth = _discs()
    view = _DisagreeingView(truth)
    cells = Canvas(tmp_path / "c.raw", *truth.shape)
    nuclei = Canvas(tmp_path / "n.raw", *truth.shape)
    try:
        table = segment_tiles(view, lambda raw: ndimage.label(raw[0] > 0)[0], 12.0, 3.0, TILE, cells, nuclei,
                              progress=False)
        (h, w) = truth.shape
        got_cells, got_nuclei = cells.read(0, h, 0, w), nuclei.read(0, h, 0, w)
    finally:
        cells.close()
        nuclei.close()
    assert len(table) == truth.max()  # the seam discs are seen by two tiles but kept once
    m = match_labels(truth, got_nuclei)
    assert m.tp == truth.max() and m.n_pred == truth.max()
    assert ((got_nuclei == 0) | (got_nuclei == got_cells)).all()
    assert (table["area_px"] > table["nucleus_area_px"]).all()  # expanded by 3 px around each nucleus
    assert not (tmp_path / "c.raw").exists()


def test_canvas_windows_across_its_tiles(tmp_path):
    rng = np.random.default_rng(0)
    ref = np.zeros((70, 90), np.uint32)
    canvas = Canvas(tmp_path / "c.raw", 70, 90, tile=16)
    try:
        for _ in range(20):
            y0, x0 = rng.integers(0, 60), rng.integers(0, 80)
            block = rng.integers(1, 1000, (rng.integers(1, 70 - y0), rng.integers(1, 90 - x0)), dtype=np.uint32)
            canvas.write(y0, x0, block)
            ref[y0 : y0 + block.shape[0], x0 : x0 + block.shape[1]] = block
            assert (canvas.read(3, 67, 5, 88) == ref[3:67, 5:88]).all()
        tiles = list(canvas.tiles())  # what write_tiff streams: zero-padded tiles in row-major order
        assert len(tiles) == 5 * 6 and (tiles[-1][: 70 - 64, : 90 - 80] == ref[64:, 80:]).all()
    finally:
        canvas.close()
