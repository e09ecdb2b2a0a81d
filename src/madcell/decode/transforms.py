"""Gene-expression target transforms shared by the decoders, the evaluation and the report.

Decoders regress a transformed expression (``counts``, ``log1p`` or ``cp10k_log1p``) because raw
counts are heavy-tailed: a Smooth-L1 fit on log-scale targets is dominated by neither a handful of
highly expressed genes nor by library size. ``cp10k_log1p`` normalises each cell to 10,000 total
counts over *all* measured genes before the log, so selecting a gene subset never changes a value.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import scipy.sparse as sp

TRANSFORMS = ("counts", "log1p", "cp10k_log1p")


def _dense(x) -> np.ndarray:
    return np.asarray(x.toarray() if sp.issparse(x) else x, dtype=np.float64)


def transform_expression(X, kind: str, columns: Sequence[int] | None = None) -> np.ndarray:
    """Transformed (n_cells, n_selected) float32 matrix of ``X[:, columns]`` (all columns if None)."""
    if kind not in TRANSFORMS:
        raise ValueError(f"unknown gene transform {kind!r} (one of {', '.join(TRANSFORMS)})")
    cols = slice(None) if columns is None else np.asarray(columns, dtype=np.int64)
    sub = _dense(X[:, cols])
    if kind == "counts":
        out = sub
    elif kind == "log1p":
        out = np.log1p(np.clip(sub, 0, None))
    else:
        total = np.asarray(X.sum(axis=1)).ravel().astype(np.float64)
        scale = np.divide(1e4, total, out=np.zeros_like(total), where=total > 0)
        out = np.log1p(np.clip(sub, 0, None) * scale[:, None])
    return out.astype(np.float32)


def transform_label(kind: str) -> str:
    """Human-readable name of the space the predictions live in."""
    return {"counts": "raw counts", "log1p": "log1p(counts)", "cp10k_log1p": "log1p(counts per 10k)"}[kind]
