"""The spatial cell graph, built per slide and never across slides.

Teacher (composition) and student (neighbour tokens) share one graph, so the student sees exactly
the neighbourhood whose composition defines the niche; positions are known at inference, expression
is not. Options: ``knn`` (k nearest centroids, the default), ``radius`` (all cells within
``radius_um``) and ``delaunay`` (triangulation edges, pruning edges longer than ``prune_factor`` ×
the slide's median edge, which removes the long edges across holes and along the convex hull).
Coordinates are in µm (``obsm['spatial']``). The result is a sparse (N, N) 0/1 matrix; row i holds
cell i's neighbours (kNN is directed; radius and Delaunay are symmetric). No self loops.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.spatial import Delaunay
from sklearn.neighbors import NearestNeighbors


def _knn(xy: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    k = min(k, len(xy) - 1)
    if k < 1:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    _, idx = NearestNeighbors(n_neighbors=k + 1).fit(xy).kneighbors(xy)
    # drop self (normally column 0, not always with duplicate positions); else the farthest
    drop = idx == np.arange(len(xy))[:, None]
    drop[~drop.any(axis=1), -1] = True
    cols = idx[~drop].reshape(len(xy), k).ravel()
    return np.repeat(np.arange(len(xy)), k), cols


def _radius(xy: np.ndarray, radius: float) -> tuple[np.ndarray, np.ndarray]:
    g = NearestNeighbors(radius=radius).fit(xy).radius_neighbors_graph(xy, mode="connectivity").tocoo()
    keep = g.row != g.col
    return g.row[keep], g.col[keep]


def _delaunay(xy: np.ndarray, prune_factor: float) -> tuple[np.ndarray, np.ndarray]:
    if len(xy) < 3:
        return _knn(xy, 1)
    tri = Delaunay(xy, qhull_options="QJ")
    s = tri.simplices
    e = np.concatenate([s[:, [0, 1]], s[:, [1, 2]], s[:, [0, 2]]])
    e = np.unique(np.sort(e, axis=1), axis=0)
    length = np.linalg.norm(xy[e[:, 0]] - xy[e[:, 1]], axis=1)
    if prune_factor and prune_factor > 0:
        e = e[length <= prune_factor * np.median(length)]
    return np.concatenate([e[:, 0], e[:, 1]]), np.concatenate([e[:, 1], e[:, 0]])


def spatial_graph(
    xy: np.ndarray,
    slides: np.ndarray,
    method: str = "knn",
    k: int = 15,
    radius_um: float = 50.0,
    prune_factor: float = 3.0,
) -> sp.csr_matrix:
    """Sparse (N, N) neighbour matrix built separately inside each slide."""
    xy = np.asarray(xy, dtype=np.float64)
    slides = np.asarray(slides).astype(str)
    n = len(xy)
    rows, cols = [], []
    for s in np.unique(slides):
        idx = np.flatnonzero(slides == s)
        if method == "knn":
            r, c = _knn(xy[idx], k)
        elif method == "radius":
            r, c = _radius(xy[idx], radius_um)
        elif method == "delaunay":
            r, c = _delaunay(xy[idx], prune_factor)
        else:
            raise ValueError(f"unknown graph method {method!r} (knn | radius | delaunay)")
        rows.append(idx[r])
        cols.append(idx[c])
    r, c = np.concatenate(rows), np.concatenate(cols)
    g = sp.csr_matrix((np.ones(len(r), np.float32), (r, c)), shape=(n, n))
    g.data[:] = 1.0  # duplicates summed -> back to 0/1
    return g


def neighbour_lists(graph: sp.csr_matrix, xy: np.ndarray, max_neighbours: int) -> tuple[np.ndarray, np.ndarray]:
    """Fixed-width neighbour index table for the student: (N, M) indices and a (N, M) validity mask.

    Keeps the ``max_neighbours`` nearest graph neighbours of each cell; padding slots point at the
    cell itself and are masked out.
    """
    graph = graph.tocsr()
    n = graph.shape[0]
    m = max(1, int(min(max_neighbours, np.diff(graph.indptr).max(initial=1))))
    idx = np.repeat(np.arange(n)[:, None], m, axis=1)
    mask = np.zeros((n, m), dtype=bool)
    for i in range(n):
        nb = graph.indices[graph.indptr[i] : graph.indptr[i + 1]]
        if len(nb) > m:
            nb = nb[np.argsort(np.linalg.norm(xy[nb] - xy[i], axis=1), kind="stable")[:m]]
        idx[i, : len(nb)] = nb
        mask[i, : len(nb)] = True
    return idx, mask
