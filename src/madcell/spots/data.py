"""The in-memory description of one spot-based section (Visium, legacy ST, HEST) that every spot reader returns.

A :class:`SpotData` holds

* ``counts``: AnnData, spots x genes, ``obs_names`` = spot ids (Visium barcodes, legacy ST ``"{x}x{y}"``);
  ``obs`` has ``x_px``, ``y_px`` (spot centre in full-resolution image pixels: x = column, y = row),
  ``in_tissue`` (bool), ``array_row``, ``array_col`` (lattice coordinates; -1 when unknown) and any spot
  label columns (e.g. ``cluster``); label tables with several columns (e.g. ``proportions`` of cell
  types) are DataFrames in ``obsm`` indexed by spot id;
* ``um_per_px`` and ``spot_diameter_px`` / ``spot_diameter_um``, with how each was obtained
  (``um_per_px_source``, ``spot_diameter_source``: ``"from scalefactors"``, ``"derived from the lattice"``
  or ``"given"``; see :mod:`madcell.spots.geometry`);
* ``platform`` (``visium`` | ``st``), ``pitch_um``, ``image_path`` (None when no image was given),
  ``source`` (the path read, for messages) and ``meta`` (format, files, cross-checks).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from madcell.errors import InputError
from madcell.spots.geometry import Scale, image_size

OBS_COLUMNS = ["x_px", "y_px", "in_tissue", "array_row", "array_col"]


@dataclass
class SpotData:
    counts: Any  # anndata.AnnData, spots x genes
    um_per_px: float
    um_per_px_source: str
    spot_diameter_px: float
    spot_diameter_um: float
    spot_diameter_source: str
    platform: str
    pitch_um: float
    image_path: Path | None
    source: Path
    meta: dict = field(default_factory=dict)

    @property
    def spot_ids(self) -> pd.Index:
        return pd.Index(self.counts.obs_names, dtype=str)

    @property
    def xy_px(self) -> np.ndarray:
        """(n_spots, 2) spot centres (x = column, y = row) in full-resolution pixels."""
        return self.counts.obs[["x_px", "y_px"]].to_numpy(np.float64)

    @property
    def spot_radius_px(self) -> float:
        return self.spot_diameter_px / 2

    @property
    def label_tables(self) -> dict[str, pd.DataFrame]:
        """The spot label tables held in ``counts.obsm`` as DataFrames (e.g. ``proportions``)."""
        return {k: v for k, v in self.counts.obsm.items() if isinstance(v, pd.DataFrame)}

    def add_labels(self, columns: pd.DataFrame | None = None, tables: dict[str, pd.DataFrame] | None = None) -> None:
        """Join spot labels by spot id: ``columns`` into ``counts.obs``, each table into ``counts.obsm``
        (spots the labels lack get empty / NaN); an id matching no spot is an InputError."""
        ids = self.spot_ids
        for name, df in [("columns", columns), *((tables or {}).items())]:
            if df is None:
                continue
            unknown = pd.Index(df.index.astype(str)).difference(ids)
            if len(unknown) == len(df):
                raise InputError(self.source, f"no spot id of the {name} labels matches a spot (e.g. {list(unknown[:3])})")
        if columns is not None:
            for c in columns.columns:
                self.counts.obs[c] = columns[c].reindex(ids).fillna("").astype(str).to_numpy()
        for name, df in (tables or {}).items():
            self.counts.obsm[name] = df.reindex(ids).astype(np.float64)

    def cells_in_spots(self, cell_xy: np.ndarray):
        """:func:`madcell.spots.assign.assign_cells_to_spots` for these spots (cell centroids in px)."""
        from madcell.spots.assign import assign_cells_to_spots

        return assign_cells_to_spots(self.xy_px, cell_xy, self.spot_radius_px)


def spot_obs(ids, x_px, y_px, in_tissue, array_row=None, array_col=None) -> pd.DataFrame:
    """The standard ``obs`` columns (module docstring), indexed by spot id."""
    n = len(ids)
    return pd.DataFrame({
        "x_px": np.asarray(x_px, np.float64), "y_px": np.asarray(y_px, np.float64),
        "in_tissue": np.asarray(in_tissue).astype(bool),
        "array_row": np.full(n, -1, np.int64) if array_row is None else np.asarray(array_row, np.int64),
        "array_col": np.full(n, -1, np.int64) if array_col is None else np.asarray(array_col, np.int64),
    }, index=pd.Index([str(i) for i in ids], dtype=str))


def check_spots(obs: pd.DataFrame, path: str | Path, image_path: Path | None) -> None:
    """InputError naming ``path`` when no spot is under tissue, a spot id repeats, a centre is not finite,
    or (with an image) a centre lies outside the image — the sign of swapped x/y or a wrong image."""
    if obs.index.has_duplicates:
        dup = obs.index[obs.index.duplicated()].unique()[:5].tolist()
        raise InputError(path, f"duplicate spot ids (e.g. {dup})")
    if not obs["in_tissue"].any():
        raise InputError(path, f"no spot under tissue (in_tissue = 1) among {len(obs)} spots")
    xy = obs[["x_px", "y_px"]].to_numpy(np.float64)
    if not np.isfinite(xy).all():
        raise InputError(path, "spot pixel coordinates must be finite numbers")
    if image_path is not None:
        h, w = image_size(image_path)
        out = (xy[:, 0] < -0.5) | (xy[:, 0] > w - 0.5) | (xy[:, 1] < -0.5) | (xy[:, 1] > h - 0.5)
        if out.any():
            raise InputError(path, f"{int(out.sum())} of {len(obs)} spot centres lie outside the image {image_path.name} "
                                   f"({w} wide x {h} high; spots span x {xy[:, 0].min():.0f}-{xy[:, 0].max():.0f}, "
                                   f"y {xy[:, 1].min():.0f}-{xy[:, 1].max():.0f}): x/y swapped or the wrong image?")


def make_spot_data(counts, scale: Scale, platform: str, image_path: Path | None, source: Path, meta: dict) -> SpotData:
    return SpotData(counts=counts, um_per_px=scale.um_per_px, um_per_px_source=scale.um_per_px_source,
                    spot_diameter_px=scale.spot_diameter_px, spot_diameter_um=scale.spot_diameter_um,
                    spot_diameter_source=scale.spot_diameter_source, platform=platform, pitch_um=scale.pitch_um,
                    image_path=image_path, source=Path(source), meta={**meta, **scale.meta})
