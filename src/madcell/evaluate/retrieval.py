"""Cross-view retrieval: does a cell's morphology embedding find its own microenvironment embedding?

For every cell the morph part is the query and the micro parts of all cells are the gallery (cosine
similarity). Recall@K is the fraction of cells whose own micro embedding ranks in the top K; chance is
K / n. MAD's cross-view distillation terms train exactly this correspondence, so it tells whether the
two views of one cell were tied together.

This is the one implementation (the training probes call it too). Ties count *against* the true
match: the rank of the match is the number of other gallery items whose similarity is >= the match's
(within ``TIE_TOL``, so float rounding in the matrix product cannot break a tie in the match's
favour). A collapsed embedding (every row the same, or all zero) therefore ranks every match last and
scores 0, never 1. The match's own similarity is read from the same matrix product it is compared
with, so it is counted exactly once.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

TIE_TOL = 1e-5  # cosine similarities closer than this are a tie (float32 rounding is ~1e-7 per term)


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def match_ranks(query: np.ndarray, gallery: np.ndarray, chunk: int = 1024) -> np.ndarray:
    """0-based rank of gallery[i] among all gallery items for query[i]: the number of *other* items
    at least as similar (ties count against the match)."""
    q, g = _unit(query), _unit(gallery)
    if q.ndim != 2 or q.shape != g.shape:
        raise ValueError(f"query {q.shape} and gallery {g.shape} must pair row by row")
    ranks = np.empty(len(q), dtype=np.int64)
    for s in range(0, len(q), chunk):
        sims = q[s : s + chunk] @ g.T
        rows = np.arange(len(sims))
        own = sims[rows, s + rows]  # the same numbers the comparison below sees
        ranks[s : s + chunk] = (sims >= own[:, None] - TIE_TOL).sum(axis=1) - 1  # minus the match itself
    return ranks


def recall_hits(query: np.ndarray, gallery: np.ndarray, ks: Sequence[int] = (1, 5, 10)) -> dict[int, np.ndarray]:
    """{K: (n,) bool hit of the own match within the top K}."""
    ranks = match_ranks(query, gallery)
    return {int(k): ranks < int(k) for k in ks}


def recall_at_k(query: np.ndarray, gallery: np.ndarray, ks: Sequence[int] = (1, 5, 10)) -> dict[int, float]:
    """{K: Recall@K}: the mean of :func:`recall_hits`."""
    return {k: float(h.mean()) for k, h in recall_hits(query, gallery, ks).items()}


def chance_recall(n: int, k: int) -> float:
    """Recall@K of a random ranking: K / n (capped at 1)."""
    return min(1.0, k / max(n, 1))
