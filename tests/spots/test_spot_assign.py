"""Spot-to-cell assignment against a brute-force answer."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from madcell.spots import assign_cells_to_spots, sum_by_spot


def _brute(spots, cells, r):
    d = np.hypot(cells[:, None, 0] - spots[None, :, 0], cells[:, None, 1] - spots[None, :, 1])  # cells x spots
    inside = d <= r
    cells_of_spot = [np.flatnonzero(inside[:, j]) for j in range(len(spots))]
    spot_of_cell = np.where(inside.any(axis=1), np.where(inside, d, np.inf).argmin(axis=1), -1)
    return cells_of_spot, spot_of_cell


@pytest.mark.parametrize("radius", [20.0, 60.0])  # 60: discs overlap (pitch 100)
def test_assignment_matches_brute_force(radius):
    rng = np.random.default_rng(0)
    gy, gx = np.mgrid[0:8, 0:10]
    spots = np.column_stack([gx.ravel() * 100.0 + 50, gy.ravel() * 100.0 + 50]) + rng.normal(0, 3, (80, 2))
    cells = rng.uniform(0, 1000, (3000, 2))
    a = assign_cells_to_spots(spots, cells, radius)
    want_cells, want_spot = _brute(spots, cells, radius)
    assert all(np.array_equal(g, w) for g, w in zip(a.cells_of_spot, want_cells))
    assert np.array_equal(a.spot_of_cell, want_spot)
    assert (a.spot_of_cell >= 0).any() and (a.spot_of_cell == -1).any()
    assert a.n_cells_per_spot.sum() == sum(len(w) for w in want_cells)


def test_sum_by_spot_dense_and_sparse():
    rng = np.random.default_rng(1)
    spots = np.array([[10.0, 10.0], [50.0, 10.0], [200.0, 200.0]])
    cells = rng.uniform(0, 60, (200, 2))
    X = rng.poisson(2, (200, 5))
    a = assign_cells_to_spots(spots, cells, 15.0)
    want = np.stack([X[c].sum(axis=0) for c in a.cells_of_spot])
    assert np.array_equal(sum_by_spot(X, a), want)
    assert np.array_equal(sum_by_spot(sp.csr_matrix(X), a).toarray(), want)
    assert want[2].sum() == 0  # the far spot holds no cell


def test_assignment_edge_cases():
    a = assign_cells_to_spots(np.zeros((0, 2)), np.ones((3, 2)), 5.0)
    assert a.cells_of_spot == [] and list(a.spot_of_cell) == [-1, -1, -1]
    a = assign_cells_to_spots(np.ones((2, 2)), np.zeros((0, 2)), 5.0)
    assert [len(c) for c in a.cells_of_spot] == [0, 0]
    with pytest.raises(ValueError, match="cell_xy"):
        assign_cells_to_spots(np.ones((2, 2)), np.ones(3), 5.0)
    with pytest.raises(ValueError, match="radius"):
        assign_cells_to_spots(np.ones((2, 2)), np.ones((3, 2)), 0)
