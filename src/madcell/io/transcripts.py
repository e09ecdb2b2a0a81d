"""Transcripts -> cells: point-in-polygon or mask lookup, then a cells x genes count matrix.

MERSCOPE ships no matrix for its polygons at a chosen z plane, and CosMx counts are simplest to
rebuild from the transcript table, so both readers count transcripts here. The same mask lookup
(:func:`labels_at`) lets tests and checks verify that a reader's coordinate conversion puts each
assigned transcript on its own cell's pixels.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from madcell.io.base import LabelSource


def assign_points(x: np.ndarray, y: np.ndarray, polygons: np.ndarray) -> np.ndarray:
    """Index of the polygon holding each point (first one on overlaps), -1 where none does."""
    import shapely

    out = np.full(len(x), -1, dtype=np.int64)
    if len(x) == 0 or len(polygons) == 0:
        return out
    tree = shapely.STRtree(polygons)
    pts, polys = tree.query(shapely.points(np.asarray(x, float), np.asarray(y, float)), predicate="intersects")
    order = np.lexsort((polys, pts))
    pts, polys = pts[order], polys[order]
    first = np.r_[True, pts[1:] != pts[:-1]]
    out[pts[first]] = polys[first]
    return out


def labels_at(labels: LabelSource, x_px: np.ndarray, y_px: np.ndarray, tile: int = 2048) -> np.ndarray:
    """Mask value under each point (nearest pixel centre); 0 outside the slide. Reads tile by tile."""
    col = np.rint(np.asarray(x_px, float)).astype(np.int64)
    row = np.rint(np.asarray(y_px, float)).astype(np.int64)
    H, W = labels.shape
    out = np.zeros(len(col), dtype=np.int32)
    inside = (row >= 0) & (row < H) & (col >= 0) & (col < W)
    idx = np.flatnonzero(inside)
    if not len(idx):
        return out
    keys = (row[idx] // tile) * ((W + tile - 1) // tile) + col[idx] // tile
    order = np.argsort(keys, kind="stable")
    idx, keys = idx[order], keys[order]
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    for s, e in zip(starts, np.r_[starts[1:], len(idx)]):
        sel = idx[s:e]
        ty, tx = (row[sel[0]] // tile) * tile, (col[sel[0]] // tile) * tile
        win = labels.read(ty, ty + tile, tx, tx + tile)
        out[sel] = win[row[sel] - ty, col[sel] - tx]
    return out


def count_matrix(
    cell_index: np.ndarray,
    genes: np.ndarray,
    cell_ids: list[str],
    exclude: str | None = None,
    gene_names: list[str] | None = None,
):
    """AnnData (cells x genes, sparse float32 counts) from per-transcript cell indices (-1 = none).

    Genes matching the regex ``exclude`` (negative probes, blanks) stay out of ``X``; their per-cell
    total goes to ``obs['control_counts']``. ``gene_names`` fixes the columns (e.g. the whole panel,
    so that every FOV of a run gets the same genes); by default the sorted genes seen.
    """
    import anndata as ad

    cell_index = np.asarray(cell_index)
    genes = pd.Series(np.asarray(genes)).astype(str).to_numpy()
    is_control = pd.Series(genes).str.match(exclude).to_numpy(bool) if exclude else np.zeros(len(genes), bool)
    keep = cell_index >= 0
    if gene_names is None:
        gene_names = sorted(set(genes[~is_control]))
    gene_names = np.array(gene_names, dtype=object)
    cols = pd.Index(gene_names).get_indexer(genes)
    sel = keep & ~is_control & (cols >= 0)
    cols = cols[sel]
    X = sp.csr_matrix(
        (np.ones(int(sel.sum()), np.float32), (cell_index[sel], cols)), shape=(len(cell_ids), len(gene_names))
    )
    X.sum_duplicates()
    control = np.bincount(cell_index[keep & is_control], minlength=len(cell_ids)).astype(np.float32)
    obs = pd.DataFrame({"control_counts": control}, index=pd.Index(cell_ids, dtype=str))
    return ad.AnnData(X=X, obs=obs, var=pd.DataFrame(index=pd.Index(gene_names, dtype=str)))
