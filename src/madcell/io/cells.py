"""Cell tables from label masks, and the checks that tie a cell table to its mask.

A mask can be far larger than memory, so :func:`mask_stats` streams it tile by tile and
accumulates, per label, the pixel count and the sums of column and row (regionprops-style centroids
without ever holding the whole mask). The same pass gives the set of labels present, which
:func:`check_table_against_mask` compares with the cell table.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from madcell.errors import InputError
from madcell.io.base import LabelSource


def mask_stats(labels: LabelSource, tile: int = 2048) -> pd.DataFrame:
    """Per label > 0: ``count`` of pixels and centroid ``x_px``, ``y_px`` (column, row), sorted by label."""
    H, W = labels.shape
    parts = []
    for y0 in range(0, H, tile):
        for x0 in range(0, W, tile):
            y1, x1 = min(y0 + tile, H), min(x0 + tile, W)
            win = labels.read(y0, y1, x0, x1)
            fg = win > 0
            if not fg.any():
                continue
            rows, cols = np.nonzero(fg)
            u, inv = np.unique(win[fg], return_inverse=True)
            parts.append(pd.DataFrame({
                "label": u,
                "count": np.bincount(inv),
                "sx": np.bincount(inv, weights=cols + x0),
                "sy": np.bincount(inv, weights=rows + y0),
            }))
    if not parts:
        return pd.DataFrame({"label": np.zeros(0, np.int64), "count": [], "x_px": [], "y_px": []})
    agg = pd.concat(parts).groupby("label", sort=True).sum()
    return pd.DataFrame({
        "label": agg.index.to_numpy(np.int64),
        "count": agg["count"].to_numpy(np.int64),
        "x_px": (agg["sx"] / agg["count"]).to_numpy(),
        "y_px": (agg["sy"] / agg["count"]).to_numpy(),
    })


def cells_from_mask(labels: LabelSource, path: str | Path, tile: int = 2048) -> pd.DataFrame:
    """Cell table derived from the mask alone: ``cell_id = str(label)``, centroid of its pixels."""
    stats = mask_stats(labels, tile)
    if stats.empty:
        raise InputError(path, "label mask is empty (no pixel > 0)")
    return pd.DataFrame({
        "cell_id": stats["label"].astype(str).to_numpy(),
        "label": stats["label"].to_numpy(np.int64),
        "x_px": stats["x_px"].to_numpy(),
        "y_px": stats["y_px"].to_numpy(),
    })


def check_table_against_mask(cells: pd.DataFrame, labels: LabelSource, cells_path: str | Path,
                             mask_path: str | Path, tile: int = 2048) -> pd.DataFrame:
    """Labels of ``cells`` and of the mask must be the same set; fills missing centroids from the mask."""
    stats = mask_stats(labels, tile)
    if stats.empty:
        raise InputError(mask_path, "label mask is empty (no pixel > 0)")
    in_mask = set(stats["label"].tolist())
    in_table = set(cells["label"].astype(np.int64).tolist())
    only_table = sorted(in_table - in_mask)
    if only_table:
        raise InputError(cells_path, f"{len(only_table)} cell labels are not in the mask {Path(mask_path).name} "
                         f"(e.g. {only_table[:5]})")
    only_mask = sorted(in_mask - in_table)
    if only_mask:
        raise InputError(cells_path, f"{len(only_mask)} mask labels of {Path(mask_path).name} have no row in the "
                         f"cell table (e.g. {only_mask[:5]})")
    if "x_px" not in cells or "y_px" not in cells:
        cent = stats.set_index("label")[["x_px", "y_px"]].reindex(cells["label"].astype(np.int64))
        cells = cells.assign(x_px=cent["x_px"].to_numpy(), y_px=cent["y_px"].to_numpy())
    return cells


def check_cells(cells: pd.DataFrame, path: str | Path) -> pd.DataFrame:
    """Required columns, unique string ids, positive integer labels; returns a clean copy."""
    for col in ("cell_id", "label", "x_px", "y_px"):
        if col not in cells:
            raise InputError(path, f"cell table has no '{col}' column")
    cells = cells.reset_index(drop=True).copy()
    cells["cell_id"] = cells["cell_id"].map(lambda v: v.decode() if isinstance(v, bytes) else str(v))
    if cells["cell_id"].duplicated().any():
        dup = cells.loc[cells["cell_id"].duplicated(), "cell_id"].head(5).tolist()
        raise InputError(path, f"cell ids are not unique (e.g. {dup})")
    lab = pd.to_numeric(cells["label"], errors="coerce")
    if lab.isna().any() or (lab <= 0).any() or (lab != np.round(lab)).any():
        raise InputError(path, "cell 'label' must be a positive integer (the mask value) for every cell")
    if lab.duplicated().any():
        raise InputError(path, "cell labels are not unique")
    cells["label"] = lab.astype(np.int64)
    if len(cells) == 0:
        raise InputError(path, "no cells")
    return cells


def add_um(cells: pd.DataFrame, pixel_size_um: float | None, origin_um: tuple[float, float]) -> pd.DataFrame:
    """``x_um``, ``y_um`` from pixel centroids when the pixel size is known (and not given already)."""
    if pixel_size_um is None or ("x_um" in cells and "y_um" in cells):
        return cells
    return cells.assign(x_um=origin_um[0] + cells["x_px"] * pixel_size_um,
                        y_um=origin_um[1] + cells["y_px"] * pixel_size_um)


def read_table(path: str | Path, **kwargs) -> pd.DataFrame:
    """A parquet or CSV (optionally gzipped) table; InputError naming the file when it cannot be read."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "file does not exist")
    try:
        if path.name.lower().endswith(".parquet"):
            return pd.read_parquet(path, **kwargs)
        return pd.read_csv(path, **kwargs)
    except Exception as exc:
        raise InputError(path, f"cannot read table ({type(exc).__name__}: {exc})") from None
