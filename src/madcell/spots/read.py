"""``read_spots``: one entry point for spot-based data, with format detection and option checks.

Formats: ``spaceranger`` (Visium outs: ``spatial/tissue_positions*`` + ``filtered_feature_bc_matrix.h5``),
``legacy_st`` (the her2st layout: ``data/ST-cnts/`` + ``data/ST-spotfiles/``) and ``hest`` (an ``.h5ad``
with spot pixel coordinates). Options (unknown ones are errors):

``image``            the full-resolution image (Space Ranger outs do not hold it);
``platform``         ``visium`` | ``st`` (default: from the format, or the lattice for ``hest``);
``pitch_um``         centre-to-centre spacing used to derive µm/px from the lattice (default: the platform's);
``spot_diameter_um`` spot diameter (default: the platform's);
``pixel_size_um``    µm per pixel, overriding scalefactors and the lattice (recorded as ``"given"``);
``section``          legacy ST section (e.g. ``B4``) when the folder holds several;
``library_id``       ``hest``: the ``uns['spatial']`` library when there are several.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from madcell.errors import InputError
from madcell.spots import hest, legacy_st, spaceranger
from madcell.spots.data import SpotData
from madcell.spots.geometry import PLATFORMS

READERS: dict[str, tuple[Callable[..., SpotData], set[str]]] = {
    "spaceranger": (spaceranger.read_spaceranger, spaceranger.OPTIONS),
    "legacy_st": (legacy_st.read_legacy_st, legacy_st.OPTIONS),
    "hest": (hest.read_hest, hest.OPTIONS),
}


def detect_spot_format(path: str | Path) -> str:
    """``spaceranger`` | ``legacy_st`` | ``hest`` from what ``path`` holds."""
    path = Path(path)
    if not path.exists():
        raise InputError(path, "does not exist")
    if path.is_file():
        if path.name.lower().endswith(".h5ad"):
            return "hest"
        raise InputError(path, "expected a folder (Space Ranger outs, legacy ST) or an .h5ad file")
    if spaceranger.positions_file(spaceranger.outs_folder(path)) is not None:
        return "spaceranger"
    if (path / "data" / "ST-cnts").is_dir():
        return "legacy_st"
    if hest.h5ad_file(path) is not None:
        return "hest"
    raise InputError(path, "unknown spot format: not Space Ranger outs (spatial/tissue_positions.csv|parquet + "
                           "filtered_feature_bc_matrix.h5), legacy ST (data/ST-cnts/ + data/ST-spotfiles/) nor an "
                           ".h5ad with obsm['spatial']")


def _check_options(options: dict, allowed: set[str], path: Path, fmt: str) -> dict:
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise InputError(path, f"unknown option(s) {unknown} for spot format {fmt!r} (allowed: {sorted(allowed)})")
    opts = {k: v for k, v in options.items() if v is not None}
    if "platform" in opts and opts["platform"] not in PLATFORMS:
        raise InputError(path, f"option platform must be one of {sorted(PLATFORMS)}, got {opts['platform']!r}")
    for k in ("pitch_um", "spot_diameter_um", "pixel_size_um"):
        if k in opts:
            try:
                opts[k] = float(opts[k])
            except (TypeError, ValueError):
                raise InputError(path, f"option {k} must be a number, got {opts[k]!r}") from None
            if not opts[k] > 0:
                raise InputError(path, f"option {k} must be positive, got {opts[k]:g}")
    if "image" in opts and not Path(opts["image"]).is_file():
        raise InputError(opts["image"], "image file does not exist")
    return opts


def read_spots(path: str | Path, format: str = "auto", **options) -> SpotData:
    """One spot-based section from ``path`` (module docstring for formats and options)."""
    path = Path(path)
    fmt = detect_spot_format(path) if format == "auto" else format
    if fmt not in READERS:
        raise InputError(path, f"unknown spot format {fmt!r} (use auto, {', '.join(READERS)})")
    if not path.exists():
        raise InputError(path, "does not exist")
    reader, allowed = READERS[fmt]
    return reader(path, _check_options(options, allowed, path, fmt))
