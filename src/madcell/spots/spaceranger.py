"""Space Ranger (Visium) outs -> :class:`~madcell.spots.data.SpotData`.

Files (in the folder given, or its ``outs/``):

* ``spatial/tissue_positions.csv`` (Space Ranger >= 2.0, with a header), ``spatial/tissue_positions_list.csv``
  (older, no header) or ``spatial/tissue_positions.parquet``: ``barcode, in_tissue, array_row, array_col,
  pxl_row_in_fullres, pxl_col_in_fullres`` — note row (y) before column (x);
* ``spatial/scalefactors_json.json`` (optional): ``spot_diameter_fullres`` gives the diameter in px and
  µm/px = 55 µm / ``spot_diameter_fullres``; without it both come from the lattice;
* ``filtered_feature_bc_matrix.h5`` (10x HDF5, read by :func:`madcell.io.expression.read_10x_h5`);
  its barcodes must all be in the positions file;
* the full-resolution image (option ``image``): Space Ranger outs do not hold it.

The platform is Visium unless option ``platform`` says otherwise or the positions form a square lattice
(legacy ST geometry in this layout), so that µm/px uses the right spot diameter and pitch.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from madcell.errors import InputError
from madcell.io.expression import read_10x_h5
from madcell.spots.data import SpotData, check_spots, make_spot_data, spot_obs
from madcell.spots.geometry import PLATFORMS, Platform, lattice_kind, resolve_scale

POSITION_COLUMNS = ["barcode", "in_tissue", "array_row", "array_col", "pxl_row_in_fullres", "pxl_col_in_fullres"]
POSITION_FILES = ("tissue_positions.parquet", "tissue_positions.csv", "tissue_positions_list.csv")
MATRIX_FILE = "filtered_feature_bc_matrix.h5"
OPTIONS = {"image", "platform", "pitch_um", "spot_diameter_um", "pixel_size_um"}


def outs_folder(path: Path) -> Path:
    return path / "outs" if not (path / "spatial").is_dir() and (path / "outs" / "spatial").is_dir() else path


def positions_file(folder: Path) -> Path | None:
    return next((folder / "spatial" / n for n in POSITION_FILES if (folder / "spatial" / n).is_file()), None)


def read_positions(path: Path) -> pd.DataFrame:
    """The positions table with the standard columns, header or not; InputError naming ``path``."""
    try:
        if path.suffix == ".parquet":
            df = pd.read_parquet(path)
        else:
            with open(path) as fh:
                has_header = fh.readline().split(",")[0].strip().strip('"') == "barcode"
            df = pd.read_csv(path, header=0 if has_header else None, names=None if has_header else POSITION_COLUMNS,
                             dtype={"barcode": str})
    except Exception as exc:
        raise InputError(path, f"cannot read spot positions ({type(exc).__name__}: {exc})") from None
    missing = [c for c in POSITION_COLUMNS if c not in df]
    if missing:
        raise InputError(path, f"spot positions lack column(s) {missing} (expected {POSITION_COLUMNS})")
    for c in POSITION_COLUMNS[1:]:
        if not pd.api.types.is_numeric_dtype(df[c]) or df[c].isna().any():
            raise InputError(path, f"column {c!r} must hold numbers only")
    df["barcode"] = df["barcode"].astype(str)
    return df


def read_scalefactors(path: Path) -> dict | None:
    if not path.is_file():
        return None
    try:
        sf = json.loads(path.read_text())
    except Exception as exc:
        raise InputError(path, f"cannot parse scalefactors JSON ({type(exc).__name__}: {exc})") from None
    if not isinstance(sf, dict):
        raise InputError(path, "scalefactors JSON must be an object")
    return sf


def platform_of(xy: np.ndarray, opts: dict) -> tuple[Platform, str]:
    """Option ``platform``, else Visium unless the positions form a square lattice (legacy ST geometry
    written in this layout, e.g. by :mod:`madcell.synthetic.spots`)."""
    if opts.get("platform"):
        return PLATFORMS[opts["platform"]], "given"
    if lattice_kind(xy) == "square":
        return PLATFORMS["st"], "square lattice in Space Ranger layout"
    return PLATFORMS["visium"], "Space Ranger outs (Visium)"


def read_spaceranger(path: str | Path, options: dict | None = None) -> SpotData:
    opts = dict(options or {})
    folder = outs_folder(Path(path))
    pos_path = positions_file(folder)
    if pos_path is None:
        raise InputError(folder, f"no spot positions: expected spatial/ with one of {list(POSITION_FILES)}")
    h5 = folder / MATRIX_FILE
    if not h5.is_file():
        raise InputError(h5, "Space Ranger count matrix does not exist")
    pos = read_positions(pos_path)
    if pos["barcode"].duplicated().any():
        raise InputError(pos_path, f"duplicate barcodes (e.g. {pos['barcode'][pos['barcode'].duplicated()].iloc[0]!r})")
    sf_path = folder / "spatial" / "scalefactors_json.json"
    sf = read_scalefactors(sf_path)
    xy = pos[["pxl_col_in_fullres", "pxl_row_in_fullres"]].to_numpy(np.float64)
    platform, how = platform_of(xy, opts)
    scale = resolve_scale(xy, pos[["array_col", "array_row"]].to_numpy(), platform, opts, sf, pos_path, sf_path)

    counts = read_10x_h5(h5)
    barcodes = pd.Index(counts.obs_names, dtype=str)
    row = pd.Index(pos["barcode"]).get_indexer(barcodes)
    if (row < 0).any():
        raise InputError(h5, f"{int((row < 0).sum())} of {len(barcodes)} barcodes are not in {pos_path.name} "
                             f"(e.g. {list(barcodes[row < 0][:3])}): spot ids do not match")
    p = pos.iloc[row]
    obs = spot_obs(barcodes, p["pxl_col_in_fullres"], p["pxl_row_in_fullres"], p["in_tissue"] == 1,
                   p["array_row"], p["array_col"])
    image = Path(opts["image"]) if opts.get("image") else None
    if not (pos["in_tissue"] == 1).any():
        raise InputError(pos_path, f"no spot under tissue (in_tissue = 1) among {len(pos)} spots")
    check_spots(obs, pos_path, image)
    for c in obs:  # keep what the matrix file had (e.g. control_counts) after the standard columns
        counts.obs[c] = obs[c].to_numpy()
    counts.obs = counts.obs[list(obs) + [c for c in counts.obs if c not in obs]]
    meta = {"format": "spaceranger", "positions": str(pos_path), "matrix": str(h5),
            "scalefactors": str(sf_path) if sf is not None else None, "scalefactors_values": sf,
            "n_positions": len(pos), "n_positions_in_tissue": int((pos["in_tissue"] == 1).sum()),
            "platform_source": how}
    return make_spot_data(counts, scale, platform.name, image, folder, meta)
