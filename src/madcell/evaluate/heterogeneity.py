"""Within-patch expression heterogeneity: are genes harder to predict where the neighbourhood is mixed?

A cell's patch is the set of cells whose centroid lies inside its microenvironment window (half-side
= ``micro_um_per_px`` x view size / 2, the area the micro view actually shows) or, when that scale is
unknown, its K nearest cells. Heterogeneity is the sum over genes of the variance of log1p-normalised
expression among the patch's cells. Gene-prediction error is then reported per quantile bin of it.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.spatial import cKDTree


def patch_matrix(spatial: np.ndarray, slides: np.ndarray, half_side: np.ndarray | None = None, k: int = 25) -> sp.csr_matrix:
    """Row-normalised (n, n) membership matrix: row i averages over the cells of i's patch (incl. i)."""
    spatial = np.asarray(spatial, dtype=np.float64)
    n = len(spatial)
    rows, cols = [], []
    for s in np.unique(slides):
        idx = np.flatnonzero(slides == s)
        tree = cKDTree(spatial[idx])
        if half_side is not None and np.all(np.isfinite(half_side[idx])):
            # square window = Chebyshev ball of radius half_side around each centroid
            nbs = tree.query_ball_point(spatial[idx], r=np.asarray(half_side[idx], dtype=np.float64), p=np.inf)
            for i, nb in zip(idx, nbs):
                rows.extend([i] * len(nb))
                cols.extend(idx[nb])
        else:
            kk = min(k, len(idx))
            _, nb = tree.query(spatial[idx], k=kk)
            nb = np.asarray(nb).reshape(len(idx), kk)
            rows.extend(np.repeat(idx, kk))
            cols.extend(idx[nb.ravel()])
    A = sp.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(n, n))
    A.data /= np.repeat(np.asarray(A.sum(axis=1)).ravel(), np.diff(A.indptr))
    return A


def patch_heterogeneity(expr: np.ndarray, A: sp.csr_matrix) -> np.ndarray:
    """(n,) sum over genes of the (population) variance of ``expr`` within each patch."""
    expr = np.asarray(expr, dtype=np.float64)
    mean = A @ expr
    mean_sq = A @ (expr**2).sum(axis=1)
    return np.clip(mean_sq - (mean**2).sum(axis=1), 0, None)


def quantile_bins(values: np.ndarray, n_bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Bin index per cell (0..n_bins-1) and the bin edges."""
    edges = np.quantile(values, np.linspace(0, 1, n_bins + 1))
    b = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, n_bins - 1)
    return b, edges


def binned_mean_fn(values: np.ndarray, bins: np.ndarray, n_bins: int):
    """metric(w) -> (B, n_bins) weighted mean of ``values`` within each bin."""
    onehot = np.eye(n_bins)[bins]
    vals = onehot * np.asarray(values, dtype=np.float64)[:, None]

    def fn(w: np.ndarray) -> np.ndarray:
        den = w @ onehot
        return np.where(den > 0, (w @ vals) / np.where(den > 0, den, 1.0), np.nan)

    return fn
