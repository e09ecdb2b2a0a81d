"""Geometry sanity of a slide, checked in one pass over its label mask *before* any view is cut.

* **Cells absent from the mask.** Real segmentations have a few: a sliver, or a small cell whose
  polygon is covered by its neighbour's when the polygons are rasterised. Up to
  ``prepare.max_missing_frac`` of a slide's cells they are skipped and reported (count, ids, reason);
  above it the slide is refused — with the count — before the minutes of work, not after.
* **Centroids on their own label.** Swapped x/y, µm in pixel columns or a wrong origin still land
  inside the image but mostly on other cells or background: below ``prepare.min_centroid_on_label``
  (fraction of in-image centroids) the slide is refused, below 0.9 a warning says how many are off.
"""

from __future__ import annotations

import warnings
from dataclasses import replace

import numpy as np

from madcell.errors import InputError
from madcell.io.base import SlideData
from madcell.views.extract import read_labels

WARN_ON_LABEL = 0.9


def mask_coverage(slide: SlideData, tile: int = 4096) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per cell: (label present anywhere in the mask, centroid pixel inside the image, centroid on its own label)."""
    _, H, W = slide.image.shape
    labels = slide.cells["label"].to_numpy().astype(np.int64)
    r = np.rint(slide.cells["y_px"].to_numpy(np.float64)).astype(np.int64)
    c = np.rint(slide.cells["x_px"].to_numpy(np.float64)).astype(np.int64)
    inside = (r >= 0) & (r < H) & (c >= 0) & (c < W)
    on_own = np.zeros(len(labels), bool)
    seen: list[np.ndarray] = []
    for y0 in range(0, H, tile):
        for x0 in range(0, W, tile):
            y1, x1 = min(y0 + tile, H), min(x0 + tile, W)
            lab = read_labels(slide, y0, y1, x0, x1)
            seen.append(np.unique(lab))
            sel = np.flatnonzero(inside & (r >= y0) & (r < y1) & (c >= x0) & (c < x1))
            on_own[sel] = lab[r[sel] - y0, c[sel] - x0] == labels[sel]
    in_mask = np.unique(np.concatenate(seen)) if seen else np.empty(0, np.int64)
    if not (in_mask != 0).any():
        raise InputError(slide.source, f"label mask is empty (no cell label at all), where the cell table has {len(labels)} cell(s)")
    return np.isin(labels, in_mask), inside, on_own


def check_geometry(slide: SlideData, cfg: dict) -> tuple[SlideData, dict]:
    """The slide without cells absent from its mask (when few enough) and a report for the store's attrs."""
    n = slide.n_cells
    present, inside, on_own = mask_coverage(slide)
    missing = ~present
    ids = slide.cells["cell_id"].astype(str).to_numpy()
    limit = float(cfg["max_missing_frac"])
    if missing.sum() > limit * n:
        raise InputError(slide.source, f"{int(missing.sum())} of {n} cells of the table have no pixel in the label mask "
                                       f"(e.g. {list(ids[missing][:5])}); more than prepare.max_missing_frac = {limit:g}: "
                                       "is the mask the one of this table?")
    judged = inside & present
    frac = float(on_own[judged].mean()) if judged.any() else 1.0
    if frac < float(cfg["min_centroid_on_label"]):
        raise InputError(slide.source, f"only {frac:.0%} of the centroids fall on their own cell's label in the mask "
                                       "(swapped x/y, µm given as pixels, or a wrong origin / pixel size?)")
    if frac < WARN_ON_LABEL:
        warnings.warn(f"{slide.source}: {1 - frac:.0%} of the centroids fall outside their own cell's label "
                      "(concave cells do this; many suggest a coordinate problem)")
    report = {"n_cells_table": n, "skipped_not_in_mask": int(missing.sum()), "skipped_ids": list(ids[missing][:100]),
              "centroid_on_own_label": round(frac, 4), "centroids_outside_image": int((~inside).sum())}
    if missing.any():
        warnings.warn(f"{slide.source}: skipped {int(missing.sum())} of {n} cells that have no pixel in the label mask "
                      f"(e.g. {list(ids[missing][:5])}: covered by a neighbour's polygon, or a sliver)")
        keep = np.flatnonzero(present)
        cells = slide.cells.iloc[keep].reset_index(drop=True)
        truth = None if slide.truth is None else slide.truth.iloc[keep].reset_index(drop=True)
        slide = replace(slide, cells=cells, truth=truth)
    return slide, report
