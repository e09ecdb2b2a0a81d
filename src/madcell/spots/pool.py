"""Cell embeddings -> spot embeddings: the spot-level AnnData every spot evaluation reads (HEST protocol).

A spot's embedding is the mean of the embeddings of the cells whose centroid lies in the spot disc
(``radius_factor = 1``); ``radius_factor > 1`` pools the spot's microenvironment instead (cells within
that many spot radii of the centre). Every ``obsm`` key of the cell AnnData that holds an embedding
(``X_*``) is pooled the same way, so all methods are scored on the same spots. Spots with fewer than
``min_cells`` cells are left out (counted in ``uns['madcell_spots']``).

The spot AnnData: ``X`` = the spot counts (genes as read), ``obs`` = spot id, ``slide``, pixel and µm
centre, ``n_cells``, the spot labels (e.g. ``cluster``); ``obsm``: the pooled embeddings, ``spatial``
(µm), and the spot label tables (e.g. ``proportions``) as arrays with their column names in ``uns``.
"""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import scipy.sparse as sp

from madcell.errors import InputError
from madcell.spots.assign import assign_cells_to_spots
from madcell.spots.data import OBS_COLUMNS, SpotData


def embedding_keys(cells: ad.AnnData) -> list[str]:
    return [k for k in cells.obsm if k.startswith("X_") and np.asarray(cells.obsm[k]).ndim == 2]


def pool_to_spots(cells: ad.AnnData, spots: SpotData, radius_factor: float = 1.0, min_cells: int = 1,
                  slide: str | None = None) -> ad.AnnData:
    """The spot AnnData (module docstring) of ``cells`` (an embedding AnnData with ``x_px`` / ``y_px`` in
    the pixel grid of the spot image) under ``spots``. ``slide``: the cells' slide to use when several."""
    if not {"x_px", "y_px"} <= set(cells.obs.columns):
        raise InputError(None, "the embedding AnnData has no x_px / y_px cell centroids to place under spots")
    if slide is not None:
        cells = cells[cells.obs["slide"].astype(str) == str(slide)]
    elif "slide" in cells.obs and cells.obs["slide"].nunique() > 1:
        raise InputError(None, f"the embedding holds {cells.obs['slide'].nunique()} slides: name the one under the spots")
    keys = embedding_keys(cells)
    if not keys:
        raise InputError(None, "the embedding AnnData has no X_* embedding to pool")
    if not radius_factor > 0:
        raise InputError("radius_factor", f"must be > 0, got {radius_factor}")
    tissue = spots.counts[spots.counts.obs["in_tissue"].to_numpy(bool)]
    assign = assign_cells_to_spots(tissue.obs[["x_px", "y_px"]].to_numpy(np.float64),
                                   cells.obs[["x_px", "y_px"]].to_numpy(np.float64),
                                   spots.spot_radius_px * float(radius_factor))
    n = assign.n_cells_per_spot
    keep = n >= int(min_cells)
    if not keep.any():
        raise InputError(spots.source, f"no spot holds {min_cells} or more cell centroids ({len(n)} spots, "
                                       f"{cells.n_obs} cells): cells and spots on different images or pixel grids?")
    member = assign.membership()[keep]
    mean = sp.diags(1.0 / n[keep]) @ member
    out = tissue[keep].copy()
    obs = out.obs
    obs["n_cells"] = n[keep]
    obs["slide"] = str(slide) if slide is not None else (str(cells.obs["slide"].iloc[0]) if "slide" in cells.obs else "slide0")
    obs["x_um"], obs["y_um"] = obs["x_px"] * spots.um_per_px, obs["y_px"] * spots.um_per_px
    for k in keys:
        out.obsm[k] = np.asarray(mean @ np.asarray(cells.obsm[k], np.float64), np.float32)
    out.obsm["spatial"] = obs[["x_um", "y_um"]].to_numpy(np.float64)
    tables = {}
    for name, df in list(out.obsm.items()):
        if isinstance(df, pd.DataFrame):
            tables[name] = [str(c) for c in df.columns]
            out.obsm[name] = df.to_numpy(np.float32)
    out.uns["madcell"] = {**dict(cells.uns.get("madcell", {})), "spatial_unit": "um", "level": "spot"}
    out.uns["madcell_spots"] = {
        "platform": spots.platform, "um_per_px": float(spots.um_per_px), "um_per_px_source": spots.um_per_px_source,
        "spot_diameter_um": float(spots.spot_diameter_um), "radius_factor": float(radius_factor),
        "pool_radius_px": float(spots.spot_radius_px * radius_factor),
        "min_cells": int(min_cells), "n_spots_in_tissue": int(len(n)), "n_spots_kept": int(keep.sum()),
        "n_cells": int(cells.n_obs), "n_cells_under_spots": int((assign.spot_of_cell >= 0).sum()),
        "cells_per_spot_median": float(np.median(n[keep])), "label_tables": tables, "source": str(spots.source),
    }
    extra = [c for c in obs.columns if c not in OBS_COLUMNS + ["n_cells", "slide", "x_um", "y_um"]]
    out.uns["madcell_spots"]["label_columns"] = extra
    return out
