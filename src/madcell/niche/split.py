"""Held-out regions as spatial blocks, never random cells.

Niches are spatially coherent, so a random-cell split would put a held-out cell's neighbours (and
their near-identical compositions) in the training set and flatter every method. Instead each slide's
bounding box is cut into a ``blocks_per_axis`` × ``blocks_per_axis`` grid and whole blocks are held
out, chosen deterministically from ``seed``, until about ``frac`` of the slide's cells are held out.
The same function carves the validation part (early stopping) out of the training region.
"""

from __future__ import annotations

import numpy as np

from madcell.evaluate.splits import spatial_blocks


def block_ids(xy: np.ndarray, slides: np.ndarray, blocks_per_axis: int) -> np.ndarray:
    """Integer id of each cell's grid block; blocks of different slides never share an id (the same
    grid as evaluate's spatial-block folds)."""
    return spatial_blocks(xy, np.asarray(slides), int(blocks_per_axis))


def spatial_block_split(
    xy: np.ndarray,
    slides: np.ndarray,
    frac: float = 0.25,
    blocks_per_axis: int = 4,
    seed: int = 0,
    candidates: np.ndarray | None = None,
) -> np.ndarray:
    """Boolean mask of held-out cells: whole blocks per slide, about ``frac`` of each slide's cells.

    ``candidates`` (bool mask) restricts the choice to those cells (e.g. the training region when
    carving a validation part); cells outside it are never selected. At least one non-empty block of
    every slide stays unselected.
    """
    slides = np.asarray(slides).astype(str)
    cand = np.ones(len(xy), dtype=bool) if candidates is None else np.asarray(candidates, dtype=bool)
    blocks = block_ids(xy, slides, blocks_per_axis)
    rng = np.random.default_rng(seed)
    held = np.zeros(len(xy), dtype=bool)
    for s in np.unique(slides):
        m = (slides == s) & cand
        ids, counts = np.unique(blocks[m], return_counts=True)
        if len(ids) < 2:
            continue
        target = frac * m.sum()
        taken = 0
        for j in rng.permutation(len(ids))[: len(ids) - 1]:
            if taken >= target:
                break
            # skip a block that would overshoot the target by more than it helps
            if taken > 0 and abs(taken + counts[j] - target) > abs(taken - target):
                continue
            held |= m & (blocks == ids[j])
            taken += counts[j]
    return held
