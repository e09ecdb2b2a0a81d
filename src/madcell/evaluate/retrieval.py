"""Cross-view retrieval: does a cell's morphology embedding find its own microenvironment embedding?

For every cell the morph part is the query and the micro parts of all cells are the gallery (cosine
similarity). Recall@K is the fraction of cells whose own micro embedding ranks in the top K; chance is
K / n. MAD's cross-view distillation terms train exactly this correspondence, so it tells whether the
two views of one cell were tied together.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def match_ranks(query: np.ndarray, gallery: np.ndarray, chunk: int = 2048) -> np.ndarray:
    """0-based rank of gallery[i] among all gallery items for query[i] (ties count in its favour)."""
    q, g = _unit(query), _unit(gallery)
    if q.shape != g.shape:
        raise ValueError(f"query {q.shape} and gallery {g.shape} must pair row by row")
    ranks = np.empty(len(q), dtype=np.int64)
    for s in range(0, len(q), chunk):
        sims = q[s : s + chunk] @ g.T
        own = np.einsum("ij,ij->i", q[s : s + chunk], g[s : s + chunk])
        ranks[s : s + chunk] = (sims > own[:, None] + 1e-6).sum(axis=1)
    return ranks


def recall_hits(query: np.ndarray, gallery: np.ndarray, ks: Sequence[int] = (1, 5, 10)) -> dict[int, np.ndarray]:
    """{K: (n,) bool hit of the own match within the top K}."""
    ranks = match_ranks(query, gallery)
    return {int(k): ranks < int(k) for k in ks}


def chance_recall(n: int, k: int) -> float:
    return min(1.0, k / max(n, 1))
