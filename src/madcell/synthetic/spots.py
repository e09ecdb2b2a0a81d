"""A spot grid over a synthetic tissue, written as Space Ranger outs, with the true answer per spot.

``make_spots(tissue_dir, platform)`` lays a spot lattice over a folder written by
:func:`madcell.synthetic.make_tissue` — Visium (55 µm spots, 100 µm centre to centre, hexagonal:
``array_col`` steps of 50 µm with ``array_col`` and ``array_row`` of equal parity, ``array_row`` steps of
100·√3/2 µm) or legacy ST (100 µm spots, 200 µm, square) — with every disc inside the image. A spot's
counts are the sum of the counts of the cells whose centroid lies inside its disc
(:func:`madcell.spots.assign.assign_cells_to_spots`); a spot is ``in_tissue`` when it covers at least one
centroid. Centres are whole pixels, as Space Ranger writes them, and the sums use those centres.

Written to ``out_dir`` (default ``<tissue>/spots_<platform>/``):

* ``spatial/tissue_positions.csv`` (with header, every lattice spot) and ``spatial/scalefactors_json.json``
  (``spot_diameter_fullres`` = diameter / pixel size, ``tissue_hires_scalef`` = 1: the tissue's own image
  is the full-resolution one);
* ``filtered_feature_bc_matrix.h5`` (10x HDF5, the in-tissue spots);
* ``spots_truth.csv``: per lattice spot ``n_cells``, ``n_<type>`` and ``frac_<type>`` for each cell type,
  ``dominant_type``, ``niche`` (the niche of most of its cells),
  and ``cell_ids`` (``;``-joined) — the known answers;
* ``spots.json``: platform, geometry in µm and px, and the tissue image's path relative to ``out_dir``.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from madcell.errors import InputError
from madcell.spots.assign import assign_cells_to_spots, sum_by_spot
from madcell.spots.geometry import PLATFORMS
from madcell.spots.spaceranger import POSITION_COLUMNS
from madcell.spots.tenx import write_10x_h5
from madcell.synthetic.params import CELL_TYPES
from madcell.utils.atomic import atomic_path, atomic_write_text


def barcodes(n: int) -> list[str]:
    """``n`` distinct 16-base barcodes with Space Ranger's ``-1`` suffix (deterministic)."""
    codes = (np.arange(n, dtype=np.uint64) * np.uint64(2654435761) + np.uint64(12345)) % np.uint64(4 ** 16)
    digits = (codes[:, None] // (np.uint64(4) ** np.arange(16, dtype=np.uint64))) % np.uint64(4)
    return ["".join("ACGT"[d] for d in row) + "-1" for row in digits.astype(int)]


def spot_lattice(platform: str, width_px: int, height_px: int, pixel_size_um: float,
                 pitch_um: float | None = None) -> pd.DataFrame:
    """``array_row``, ``array_col``, ``x_px``, ``y_px`` (whole pixels) of every spot whose disc fits the image."""
    p = PLATFORMS[platform]
    pitch = float(pitch_um or p.pitch_um) / pixel_size_um
    r = p.spot_diameter_um / pixel_size_um / 2
    step_c, step_r = (pitch / 2, pitch * np.sqrt(3) / 2) if p.lattice == "hexagonal" else (pitch, pitch)
    rows = np.arange(int((height_px - 1 - 2 * r) // step_r) + 1)
    cols = np.arange(int((width_px - 1 - 2 * r) // step_c) + 1)
    rr, cc = (a.ravel() for a in np.meshgrid(rows, cols, indexing="ij"))
    if p.lattice == "hexagonal":
        keep = (rr % 2) == (cc % 2)
        rr, cc = rr[keep], cc[keep]
    x, y = np.rint(np.ceil(r) + cc * step_c), np.rint(np.ceil(r) + rr * step_r)
    inside = (x + r <= width_px - 1) & (y + r <= height_px - 1)
    return pd.DataFrame({"array_row": rr[inside], "array_col": cc[inside], "x_px": x[inside], "y_px": y[inside]})


def make_spots(tissue_dir: str | Path, platform: str = "visium", out_dir: str | Path | None = None) -> Path:
    """Write the spot grid of ``tissue_dir`` (module docstring); returns the output folder."""
    import anndata as ad

    tissue = Path(tissue_dir)
    if platform not in PLATFORMS:
        raise InputError("--spots", f"must be one of {sorted(PLATFORMS)} (or none), got {platform!r}")
    for name in ("synth.json", "cells.parquet", "expression.h5ad"):
        if not (tissue / name).is_file():
            raise InputError(tissue / name, "synthetic tissue file does not exist (write the tissue with madcell synth)")
    info = json.loads((tissue / "synth.json").read_text())
    ps = float(info["pixel_size_um"])
    cells = pd.read_parquet(tissue / "cells.parquet")
    expr = ad.read_h5ad(tissue / "expression.h5ad")
    X = expr[cells["cell_id"].to_numpy()].X
    geo = PLATFORMS[platform]
    lattice = spot_lattice(platform, int(info["width_px"]), int(info["height_px"]), ps)
    if lattice.empty:
        raise InputError(tissue, f"the tissue ({info['width_um']:.0f} µm wide) is too small for one {platform} spot")
    diam_px = geo.spot_diameter_um / ps
    a = assign_cells_to_spots(lattice[["x_px", "y_px"]].to_numpy(), cells[["x_px", "y_px"]].to_numpy(), diam_px / 2)
    n = a.n_cells_per_spot
    lattice.insert(0, "barcode", barcodes(len(lattice)))
    lattice.insert(1, "in_tissue", (n > 0).astype(int))

    out = Path(out_dir) if out_dir is not None else tissue / f"spots_{platform}"
    (out / "spatial").mkdir(parents=True, exist_ok=True)
    pos = lattice.rename(columns={"x_px": "pxl_col_in_fullres", "y_px": "pxl_row_in_fullres"})
    pos = pos.astype({"pxl_col_in_fullres": np.int64, "pxl_row_in_fullres": np.int64})
    with atomic_path(out / "spatial" / "tissue_positions.csv") as tmp:
        pos[POSITION_COLUMNS].to_csv(tmp, index=False)
    atomic_write_text(out / "spatial" / "scalefactors_json.json",
                      json.dumps({"spot_diameter_fullres": diam_px, "tissue_hires_scalef": 1.0}, indent=2))
    keep = n > 0
    write_10x_h5(out / "filtered_feature_bc_matrix.h5", sum_by_spot(X, a)[keep], lattice["barcode"][keep].tolist(),
                 list(expr.var_names), genome="synthetic")

    types = cells["cell_type"].to_numpy()
    truth = lattice.copy()
    truth["n_cells"] = n
    for t in CELL_TYPES:
        truth[f"n_{t}"] = [int((types[c] == t).sum()) for c in a.cells_of_spot]
    for t in CELL_TYPES:
        truth[f"frac_{t}"] = truth[f"n_{t}"] / np.maximum(n, 1)
    fracs = truth[[f"frac_{t}" for t in CELL_TYPES]].to_numpy()
    truth["dominant_type"] = np.where(n > 0, np.asarray(CELL_TYPES)[fracs.argmax(1)], "")
    if "niche" in cells:  # the niche most of the spot's cells are in (ties: first in sorted order)
        niche = cells["niche"].astype(str).to_numpy()
        truth["niche"] = [pd.Series(niche[c]).value_counts().sort_index().idxmax() if len(c) else "" for c in a.cells_of_spot]
    truth["cell_ids"] = [";".join(cells["cell_id"].to_numpy()[c]) for c in a.cells_of_spot]
    with atomic_path(out / "spots_truth.csv") as tmp:
        truth.to_csv(tmp, index=False)
    image = Path("..") / "image.ome.tif"
    if out.resolve().parent != tissue.resolve():
        image = (tissue / "image.ome.tif").resolve()
    atomic_write_text(out / "spots.json", json.dumps({
        "generator": "madcell.synthetic.spots", "platform": platform, "spot_diameter_um": geo.spot_diameter_um,
        "pitch_um": geo.pitch_um, "lattice": geo.lattice, "pixel_size_um": ps, "spot_diameter_px": diam_px,
        "n_spots": len(lattice), "n_spots_in_tissue": int(keep.sum()), "cells_in_spots": int(n.sum()),
        "n_cells": len(cells), "image": str(image)}, indent=2))
    return out


def read_spot_truth(spot_dir: str | Path) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """The known answers of :func:`make_spots` as spot labels: (columns ``dominant_type``, ``niche``;
    ``{"composition": frac_<type> table}``), indexed by barcode (see :meth:`SpotData.add_labels`)."""
    path = Path(spot_dir) / "spots_truth.csv"
    if not path.is_file():
        raise InputError(path, "no spots_truth.csv: not a synthetic spot grid")
    t = pd.read_csv(path, keep_default_na=False).set_index("barcode")
    t.index = t.index.astype(str)
    frac = [c for c in t.columns if c.startswith("frac_")]
    comp = t[frac].rename(columns=lambda c: c[len("frac_"):]).astype(np.float64)
    return t[[c for c in ("dominant_type", "niche") if c in t.columns]], {"composition": comp}
