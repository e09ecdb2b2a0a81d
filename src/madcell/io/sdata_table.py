"""The table half of the SpatialData reader: the join on the instance key, and the pixel size.

A table annotates a segmentation element through ``uns['spatialdata_attrs']`` (``region``,
``region_key``, ``instance_key``). madcell keeps the cells that have a row, in segmentation order;
``X`` becomes the expression, text columns of ``obs`` become labels (numbers are not labels).

Pixel size. SpatialData coordinate systems carry no unit. When the image's transformation scales its
pixels, the system is taken as µm. When it is the identity (the system *is* the image's pixels, as in
spatialdata-io's Xenium and Visium objects), µm come from the table's ``obsm['spatial']`` if that is a
clean scaling of the cells' centroids (spatialdata-io's Xenium tables hold µm there); otherwise the
pixel size is unknown and the user is told to give ``pixel_size_um``.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from madcell.errors import InputError
from madcell.io.annotations import metadata_labels


def _table_for(sdata, element: str, given: str | None, folder: Path):
    names = [n for n, t in sdata.tables.items() if element in np.atleast_1d(t.uns.get("spatialdata_attrs", {}).get("region", []))]
    if given is not None:
        if given not in sdata.tables:
            raise InputError(folder, f"no table {given!r} (it has: {', '.join(sdata.tables) or 'none'})")
        if given not in names:
            raise InputError(folder, f"table {given!r} does not annotate the segmentation element {element!r}")
        names = [given]
    if len(names) > 1:  # a table madcell export added (uns['madcell']) is an output, not the input's table
        names = [n for n in names if "madcell" not in sdata.tables[n].uns] or names
    if len(names) > 1:
        raise InputError(folder, f"tables {names} all annotate {element!r}; name one with --option table=NAME")
    if not names:
        return None
    t = sdata.tables[names[0]]
    attrs = t.uns["spatialdata_attrs"]
    t = t[t.obs[attrs["region_key"]].astype(str).to_numpy() == element]
    ids = t.obs[attrs["instance_key"]].astype(str).to_numpy()
    if pd.Index(ids).has_duplicates:
        raise InputError(folder, f"table {names[0]!r} has duplicated instance ids for {element!r}")
    return names[0], attrs, t, ids


def join_table(sdata, element: str, cells: pd.DataFrame, given, folder: Path):
    """(cells that have a table row, expression, meta with ``kept`` row positions, their obsm['spatial'])."""
    found = _table_for(sdata, element, given, folder)
    if found is None:
        return cells, None, {"table": None, "kept": np.arange(len(cells))}, None
    name, attrs, table, ids = found
    in_table = cells["cell_id"].isin(ids).to_numpy()
    cells = cells[in_table].reset_index(drop=True)
    if not len(cells):
        raise InputError(folder, f"no instance of {element!r} has a row in table {name!r} "
                                 f"(instance key {attrs['instance_key']!r})")
    rows = table[pd.Index(ids).get_indexer(cells["cell_id"])]
    obs = rows.obs.drop(columns=[attrs["region_key"], attrs["instance_key"]], errors="ignore")
    obs = obs.apply(lambda c: c.astype(object) if isinstance(c.dtype, pd.CategoricalDtype) else c)
    extra = metadata_labels(obs.reset_index(drop=True), cells["cell_id"], folder)
    if extra is not None:
        cells = cells.join(extra, on="cell_id")
    expression = None
    if rows.n_vars:
        import anndata as ad

        expression = ad.AnnData(X=rows.X.copy(), var=rows.var.copy(),
                                obs=pd.DataFrame(index=pd.Index(cells["cell_id"].astype(str), name=None)))
    meta = {"table": name, "kept": np.flatnonzero(in_table), "cells_without_table_row": int((~in_table).sum()),
            "mask_has_other_cells": bool((~in_table).any()),  # those stay in the mask: not an error
            "table_rows_without_instance": int(len(ids) - len(cells))}
    spatial = np.asarray(rows.obsm["spatial"], dtype=np.float64)[:, :2] if "spatial" in rows.obsm else None
    return cells, expression, meta, spatial


def pixel_size(a_level: np.ndarray, cs_xy: np.ndarray, spatial: np.ndarray | None, given: float | None,
               level_factor: float, folder: Path) -> tuple[float | None, np.ndarray | None, str]:
    """(µm per pixel of the level read, the cells' µm positions or None to derive them, the source)."""
    if given is not None:
        return float(given) * level_factor, None, "option pixel_size_um"
    scale = float(np.sqrt(abs(np.linalg.det(a_level[:2, :2]))))
    if not np.allclose(a_level[:2, :2], np.eye(2) * level_factor, atol=1e-9):
        return scale, cs_xy, "the image's transformation (coordinate system taken as µm)"
    if spatial is not None and len(spatial) >= 3 and np.isfinite(spatial).all():
        n = len(cs_xy)
        A = np.column_stack([cs_xy.ravel(), np.tile([1.0, 0.0], n), np.tile([0.0, 1.0], n)])
        coef = np.linalg.lstsq(A, spatial.ravel(), rcond=None)[0]
        r = float(np.corrcoef(A @ coef, spatial.ravel())[0, 1])
        if coef[0] > 0 and r > 0.9999:
            return float(coef[0]) * scale, cs_xy * coef[0] + coef[1:], \
                f"table obsm['spatial'] = {coef[0]:.6g} x the coordinate system (fit r = {r:.6f})"
    warnings.warn(f"{folder}: the coordinate system is the image's own pixels and no table gives µm, so the pixel "
                  "size is unknown; give --option pixel_size_um=...", stacklevel=3)
    return None, None, "unknown"


def table_centroids(cells: pd.DataFrame, spatial: np.ndarray, to_px, max_px: float = 1.0):
    """(cells, source): the table's µm centroids replace the geometry's when every one lies within
    ``max_px`` pixels of its cell's (the same frame, just another centroid); else the geometry's stay."""
    x, y = to_px(spatial[:, 0], spatial[:, 1])
    d = np.hypot(x - cells["x_px"].to_numpy(), y - cells["y_px"].to_numpy())
    if not np.isfinite(d).all() or d.max() > max_px:
        far = float(np.nanmax(d)) if np.isfinite(d).any() else float("nan")
        return cells, f"geometry (table obsm['spatial'] is up to {far:.3g} px away: another frame)"
    return cells.assign(x_px=x, y_px=y, x_um=spatial[:, 0], y_um=spatial[:, 1]), "table obsm['spatial']"
