"""Neighbourhood cell-type composition: what a niche *is* in the teacher.

A cell's composition is the fraction of each cell type among its graph neighbours (row-normalised
adjacency times the one-hot cell-type matrix). With ``hops > 1`` the compositions of the 1..hops-hop
random-walk neighbourhoods are averaged, which smooths niches over larger regions. A cell without
neighbours (possible with radius/Delaunay graphs) gets its own type, so every row sums to 1.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def one_hot(types: np.ndarray, categories: list[str] | None = None) -> tuple[np.ndarray, list[str]]:
    """(N, T) float one-hot matrix and the category order."""
    types = np.asarray(types).astype(str)
    cats = sorted(set(types)) if categories is None else [str(c) for c in categories]
    pos = {c: i for i, c in enumerate(cats)}
    oh = np.zeros((len(types), len(cats)), dtype=np.float64)
    oh[np.arange(len(types)), [pos[t] for t in types]] = 1.0
    return oh, cats


def row_normalise(graph: sp.spmatrix) -> sp.csr_matrix:
    graph = sp.csr_matrix(graph, dtype=np.float64)
    deg = np.asarray(graph.sum(axis=1)).ravel()
    return sp.diags(np.divide(1.0, deg, out=np.zeros_like(deg), where=deg > 0)) @ graph


def neighbourhood_composition(graph: sp.spmatrix, onehot: np.ndarray, hops: int = 1) -> np.ndarray:
    """(N, T) cell-type fractions of each cell's neighbourhood; rows sum to 1."""
    p = row_normalise(graph)
    isolated = np.asarray(p.sum(axis=1)).ravel() == 0
    cur = onehot.astype(np.float64)
    acc = np.zeros_like(cur)
    for _ in range(max(1, int(hops))):
        cur = p @ cur
        cur[isolated] = onehot[isolated]
        acc += cur
    return acc / max(1, int(hops))
