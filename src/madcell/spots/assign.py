"""Which cells lie under which spot: centroids inside the spot disc, found with KD-trees.

A cell belongs to a spot when its centroid is within the spot radius of the spot centre (distance
<= radius, all in full-resolution pixels). Spots of one lattice never overlap (diameter < pitch), so
a cell has at most one spot; if discs do overlap (a user-given radius), ``spot_of_cell`` names the
nearest centre while ``cells_of_spot`` lists the cell under every spot that covers it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.spatial import cKDTree


@dataclass
class SpotAssignment:
    cells_of_spot: list[np.ndarray]  # per spot: sorted indices of the cells inside it
    spot_of_cell: np.ndarray  # (n_cells,) int64: the spot index, -1 when the centroid is under no spot

    @property
    def n_cells_per_spot(self) -> np.ndarray:
        return np.array([len(c) for c in self.cells_of_spot], dtype=np.int64)

    def membership(self) -> sp.csr_matrix:
        """(n_spots, n_cells) 0/1 matrix: ``membership() @ X`` sums cell rows of ``X`` per spot."""
        n_spots, n_cells = len(self.cells_of_spot), len(self.spot_of_cell)
        cols = np.concatenate(self.cells_of_spot) if n_spots else np.zeros(0, np.int64)
        rows = np.repeat(np.arange(n_spots), self.n_cells_per_spot)
        return sp.csr_matrix((np.ones(len(cols)), (rows, cols)), shape=(n_spots, n_cells))


def _points(a, name: str) -> np.ndarray:
    a = np.asarray(a, dtype=np.float64)
    if a.ndim != 2 or a.shape[1] != 2:
        raise ValueError(f"{name} must be an (n, 2) array of (x, y) pixels, got shape {a.shape}")
    return a


def assign_cells_to_spots(spot_xy, cell_xy, radius_px: float) -> SpotAssignment:
    """Cells (centroids ``cell_xy``, (n, 2) px) inside each spot disc (centres ``spot_xy``, radius px)."""
    spot_xy, cell_xy = _points(spot_xy, "spot_xy"), _points(cell_xy, "cell_xy")
    if not radius_px > 0:
        raise ValueError(f"radius_px must be positive, got {radius_px}")
    spot_of_cell = np.full(len(cell_xy), -1, dtype=np.int64)
    if len(spot_xy) == 0 or len(cell_xy) == 0:
        return SpotAssignment([np.zeros(0, np.int64) for _ in range(len(spot_xy))], spot_of_cell)
    hits = cKDTree(cell_xy).query_ball_point(spot_xy, r=radius_px)
    cells_of_spot = [np.sort(np.asarray(h, dtype=np.int64)) for h in hits]
    d, nearest = cKDTree(spot_xy).query(cell_xy, k=1)
    # membership as decided by the ball query, so both views agree at the disc edge
    members = np.zeros(len(cell_xy), bool)
    if any(len(c) for c in cells_of_spot):
        members[np.concatenate(cells_of_spot)] = True
    spot_of_cell[members] = nearest[members]
    return SpotAssignment(cells_of_spot, spot_of_cell)


def sum_by_spot(X, assignment: SpotAssignment):
    """(n_spots, n_genes) sums of the rows of ``X`` (cells x genes, dense or sparse) of each spot's cells."""
    out = assignment.membership() @ (X if sp.issparse(X) else np.asarray(X))
    return sp.csr_matrix(out) if sp.issparse(X) else np.asarray(out)
