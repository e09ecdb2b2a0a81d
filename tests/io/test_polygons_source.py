from __future__ import annotations

import numpy as np
from skimage.draw import polygon as draw_polygon

from madcell.io.polygons import PolygonLabels, fill_polygon, polygon_cells


def test_fill_matches_skimage():
    rng = np.random.default_rng(0)
    for k in range(200):
        n = int(rng.integers(3, 40))
        ang = np.sort(rng.uniform(0, 2 * np.pi, n)) if k % 2 else rng.uniform(0, 2 * np.pi, n)  # odd k: simple
        rad = rng.uniform(2, 30, n)
        cx, cy = rng.uniform(-10, 60, 2)
        ring = np.column_stack([cx + rad * np.cos(ang), cy + rad * np.sin(ang)])
        a, b = np.zeros((50, 60), bool), np.zeros((50, 60), bool)
        a[draw_polygon(ring[:, 1], ring[:, 0], shape=(50, 60))] = True
        b[fill_polygon(ring, 0, 0, 50, 60)] = True
        assert np.array_equal(a, b), k


def test_fill_does_not_depend_on_the_window():
    """The scanline works on the polygon's own columns: a wide window (a 4096-px tile) gives the pixels of
    a tight one, also for integer vertices on pixel centres and rings crossing the window's edges."""
    rng = np.random.default_rng(2)
    for k in range(300):
        n = int(rng.integers(3, 25))
        ang = np.sort(rng.uniform(0, 2 * np.pi, n)) if k % 2 else rng.uniform(0, 2 * np.pi, n)
        ring = np.column_stack([rng.uniform(-10, 60) + rng.uniform(1, 20, n) * np.cos(ang),
                                rng.uniform(-10, 60) + rng.uniform(1, 20, n) * np.sin(ang)])
        if k % 3 == 0:
            ring = np.round(ring)
        a, b = np.zeros((50, 60), bool), np.zeros((70, 3000), bool)
        a[fill_polygon(ring, 0, 0, 50, 60)] = True
        b[fill_polygon(ring, -7, -13, 70, 3000)] = True
        assert np.array_equal(a, b[7:57, 13:73]), k


def test_windows_agree_with_full_raster_and_edges_are_zero():
    rng = np.random.default_rng(1)
    rings = [np.column_stack([cx + 6 * np.cos(t), cy + 4 * np.sin(t)])
             for cx, cy in rng.uniform(-5, 105, (40, 2)) for t in [np.linspace(0, 2 * np.pi, 17)]]
    src = PolygonLabels(rings, np.arange(1, 41), (100, 100))
    full = src.read(0, 100, 0, 100)
    assert full.dtype == np.int32 and len(np.unique(full)) > 30
    for y0, x0 in [(13, 27), (60, 0), (90, 95), (-8, -8)]:
        win = src.read(y0, y0 + 20, x0, x0 + 20)
        expected = np.zeros((20, 20), np.int32)
        sy, sx = max(y0, 0), max(x0, 0)
        expected[sy - y0 : min(y0 + 20, 100) - y0, sx - x0 : min(x0 + 20, 100) - x0] = full[sy : y0 + 20, sx : x0 + 20]
        assert np.array_equal(win, expected)
        assert len(src.candidates(y0, y0 + 20, x0, x0 + 20)) < 40  # a window only touches nearby polygons


def test_tiny_polygon_owns_a_pixel_and_outside_polygons_dropped():
    rings = [np.array([[10.1, 10.1], [10.2, 10.1], [10.2, 10.2]]),  # covers no pixel centre
             np.array([[0.0, 0.0], [8, 0], [8, 8], [0, 8]]),
             np.array([[200.0, 200], [210, 200], [210, 210]])]  # wholly outside a 50 x 50 slide
    src, cells, dropped = polygon_cells(["tiny", "square", "out"], rings, (50, 50))
    assert dropped == ["out"] and list(cells["cell_id"]) == ["tiny", "square"]
    full = src.read(0, 50, 0, 50)
    assert full[10, 10] == 1 and (full == 1).sum() == 1 and (full == 2).sum() == 64  # centres 1..8 x 0..7
    assert np.allclose(cells.loc[0, ["x_px", "y_px"]].astype(float), [10.1667, 10.1333], atol=1e-3)
