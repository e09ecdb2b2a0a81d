"""Group-aware cross-validation folds for the probes.

Neighbouring cells share their microenvironment (and, for MAD, literally overlapping image windows),
so a random split leaks: a probe can score well by memorising places. Folds therefore hold out whole
slides when there are at least ``n_folds`` of them, and otherwise whole spatial blocks of each slide
(a grid of ``n_folds`` x ``n_folds`` blocks per slide unless ``block_um`` sets the side). Groups
(slides or blocks) are visited in a seed-dependent random order and each goes to the fold with the
fewest cells so far, which keeps folds balanced without ever splitting a group.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import anndata as ad
import numpy as np

SPLITS = ("auto", "slide", "spatial_block", "random")


@dataclass
class Split:
    seed: int
    fold: int
    train: np.ndarray
    test: np.ndarray


def slides_of(adata: ad.AnnData) -> np.ndarray:
    if "slide" in adata.obs:
        return adata.obs["slide"].astype(str).to_numpy()
    return np.full(adata.n_obs, "slide0", dtype=object)


def spatial_blocks(spatial: np.ndarray, slides: np.ndarray, n_per_axis: int, block_um: float | None = None) -> np.ndarray:
    """Integer block id per cell: a grid over each slide's bounding box (``block_um`` side, or
    ``n_per_axis`` blocks per axis). Blocks of different slides never share an id."""
    spatial = np.asarray(spatial, dtype=np.float64)
    out = np.zeros(len(spatial), dtype=np.int64)
    offset = 0
    for s in np.unique(slides):
        m = slides == s
        xy = spatial[m]
        lo, hi = np.nanmin(xy, axis=0), np.nanmax(xy, axis=0)
        if block_um:
            side = np.full(2, float(block_um))
        else:
            side = np.maximum((hi - lo) / n_per_axis, 1e-9)
        cell = np.floor((xy - lo) / side).astype(np.int64)
        nx = int(cell[:, 0].max()) + 1 if len(cell) else 1
        if not block_um:
            cell = np.minimum(cell, n_per_axis - 1)
            nx = n_per_axis
        ids = cell[:, 1] * nx + cell[:, 0]
        _, dense = np.unique(ids, return_inverse=True)
        out[m] = dense + offset
        offset += int(dense.max()) + 1 if len(dense) else 0
    return out


def groups_to_folds(groups: np.ndarray, n_folds: int, seed: int) -> np.ndarray:
    """Greedy balanced assignment of whole groups to folds, in a random (seeded) group order."""
    uniq, inverse, counts = np.unique(groups, return_inverse=True, return_counts=True)
    rng = np.random.default_rng(seed)
    fold_of_group = np.zeros(len(uniq), dtype=np.int64)
    load = np.zeros(n_folds)
    for g in rng.permutation(len(uniq)):
        f = int(np.argmin(load + rng.random(n_folds) * 1e-9))
        fold_of_group[g] = f
        load[f] += counts[g]
    return fold_of_group[inverse]


def resolve_split(adata: ad.AnnData, n_folds: int, split: str) -> str:
    if split not in SPLITS:
        raise ValueError(f"evaluate.split must be one of {', '.join(SPLITS)} (got {split!r})")
    if split == "auto":
        return "slide" if len(np.unique(slides_of(adata))) >= n_folds else "spatial_block"
    return split


def assign_folds(adata: ad.AnnData, n_folds: int, seed: int, split: str = "auto", block_um: float | None = None) -> np.ndarray:
    """Fold id (0..n_folds-1) of every cell."""
    split = resolve_split(adata, n_folds, split)
    slides = slides_of(adata)
    if split == "slide":
        groups = slides
    elif split == "spatial_block":
        if "spatial" not in adata.obsm:
            raise ValueError("spatial_block folds need obsm['spatial']")
        groups = spatial_blocks(adata.obsm["spatial"], slides, n_folds, block_um)
    else:
        groups = np.arange(adata.n_obs)
    return groups_to_folds(groups, n_folds, seed)


def make_splits(adata: ad.AnnData, cfg: Mapping) -> list[Split]:
    """Every (seed, fold) train/test split of the ``evaluate`` config section."""
    out = []
    for seed in cfg["seeds"]:
        fold = assign_folds(adata, int(cfg["n_folds"]), int(seed), cfg["split"], cfg.get("block_um"))
        for f in range(int(cfg["n_folds"])):
            test = np.flatnonzero(fold == f)
            if len(test):
                out.append(Split(int(seed), f, np.flatnonzero(fold != f), test))
    return out
