"""Entry point of the readers: format detection, dispatch and YAML manifests.

``read_input`` takes a folder (one slide, or vendor outs holding several FOVs) or a YAML manifest
listing several folders, so that many slides go into one view store::

    slides:
      - path: xenium_run1            # relative paths are resolved against the manifest's folder
        format: xenium               # optional (auto-detected)
        slide_id: run1               # optional
        pixel_size_um: 1.7           # any reader option
      - path: cosmx_lung
        crop_offsets: {2: [4800, 3000], 3: [0, 3000]}

Options given to ``read_input`` apply to every entry; an entry's own keys win.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from madcell.errors import InputError
from madcell.io.base import SlideData
from madcell.io.cosmx import read_cosmx
from madcell.io.generic import IMAGE_NAMES, read_generic
from madcell.io.merscope import read_merscope
from madcell.io.spatialdata import is_spatialdata, read_spatialdata
from madcell.io.xenium import read_xenium

READERS: dict[str, Callable[..., list[SlideData]]] = {
    "generic": read_generic,
    "xenium": read_xenium,
    "cosmx": read_cosmx,
    "merscope": read_merscope,
    "spatialdata": read_spatialdata,
}


def detect_format(path: str | Path) -> str:
    """``spatialdata`` | ``xenium`` | ``cosmx`` | ``merscope`` | ``generic`` from the files a folder holds."""
    folder = Path(path)
    if not folder.exists():
        raise InputError(folder, "does not exist")
    if not folder.is_dir():
        raise InputError(folder, "expected a folder (or a .yaml manifest)")

    def has(*patterns: str) -> bool:
        return any(next(folder.glob(p), None) is not None for p in patterns)

    if is_spatialdata(folder):
        return "spatialdata"

    if has("cells.parquet", "cells.csv.gz") and has("cell_feature_matrix.h5") and \
            has("morphology*.ome.tif", "morphology_focus/*.ome.tif"):
        return "xenium"
    if (folder / "CellLabels").is_dir() and (folder / "CellComposite").is_dir() and \
            has("*_tx_file.csv*", "*_fov_positions_file.csv*"):
        return "cosmx"
    if (folder / "images").is_dir() and ((folder / "cell_boundaries").is_dir() or has("cell_boundaries.parquet")):
        return "merscope"
    if has(*IMAGE_NAMES):
        return "generic"
    raise InputError(folder, "unknown input format: not a SpatialData zarr, not Xenium outs (cells.parquet + cell_feature_matrix.h5 + "
                     "morphology*.ome.tif), CosMx (CellLabels/ + CellComposite/ + *_tx_file.csv), MERSCOPE "
                     f"(images/ + cell_boundaries/) nor a generic folder ({' | '.join(IMAGE_NAMES)} + labels/polygons)")


def _read_one(path: Path, fmt: str, options: dict) -> list[SlideData]:
    if fmt == "auto":
        try:
            fmt = detect_format(path)
        except InputError:
            if not options.get("image"):
                raise
            fmt = "generic"
    if fmt not in READERS:
        raise InputError(path, f"unknown format {fmt!r} (use auto, {', '.join(READERS)})")
    if not path.is_dir():
        raise InputError(path, "expected a folder")
    region = options.pop("region_um", None)
    slides = READERS[fmt](path, options)
    return slides if region is None else [crop_to_region(s, region, path) for s in slides]


def crop_to_region(slide: SlideData, region, source: Path) -> SlideData:
    """Option ``region_um: [x0, y0, x1, y1]``: keep the cells whose centroid (µm) lies in the box, with
    their expression and ground truth (e.g. to train on one part of a section and predict another).
    The image and mask stay whole, so views near the box edge still show the neighbours beyond it."""
    from dataclasses import replace

    try:
        x0, y0, x1, y1 = (float(v) for v in region)
    except (TypeError, ValueError):
        raise InputError(source, f"option region_um must be [x0, y0, x1, y1] in µm, got {region!r}") from None
    if not (x1 > x0 and y1 > y0):
        raise InputError(source, f"option region_um {region!r}: need x1 > x0 and y1 > y0")
    if "x_um" not in slide.cells:
        raise InputError(source, "option region_um needs cell positions in µm: give pixel_size_um")
    x, y = slide.cells["x_um"].to_numpy(float), slide.cells["y_um"].to_numpy(float)
    keep = (x >= x0) & (x < x1) & (y >= y0) & (y < y1)
    if not keep.any():
        raise InputError(source, f"no cell of slide {slide.slide_id!r} lies in region_um {list(region)} "
                                 f"(cells span x {x.min():.0f}-{x.max():.0f}, y {y.min():.0f}-{y.max():.0f} µm)")
    cells = slide.cells[keep].reset_index(drop=True)
    ids = cells["cell_id"].astype(str).to_numpy()
    expression = slide.expression[ids].copy() if slide.expression is not None else None
    truth = slide.truth[keep].reset_index(drop=True) if slide.truth is not None else None
    meta = {**slide.meta, "region_um": [x0, y0, x1, y1], "cells_outside_region": int((~keep).sum()),
            "mask_has_other_cells": True}  # the cut-away cells stay in the mask: not an error when views are cut
    return replace(slide, cells=cells, expression=expression, truth=truth, meta=meta)


def _read_manifest(path: Path, options: dict) -> list[SlideData]:
    import yaml

    try:
        doc = yaml.safe_load(path.read_text())
    except Exception as exc:
        raise InputError(path, f"cannot parse the YAML manifest ({type(exc).__name__}: {exc})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("slides"), list) or not doc["slides"]:
        raise InputError(path, "manifest must hold a non-empty list 'slides: [{path: ..., format: ..., ...}]'")
    if set(doc) - {"slides"}:
        raise InputError(path, f"unknown manifest key(s) {sorted(set(doc) - {'slides'})}")
    slides: list[SlideData] = []
    for i, entry in enumerate(doc["slides"]):
        if not isinstance(entry, dict) or "path" not in entry:
            raise InputError(path, f"manifest entry {i} has no 'path'")
        entry = {**options, **entry}
        p = Path(entry.pop("path"))
        p = p if p.is_absolute() else path.parent / p
        fmt = str(entry.pop("format", "auto"))
        slides.extend(_read_one(p, fmt, entry))
    return slides


def read_input(path: str | Path, format: str = "auto", options: dict | None = None) -> list[SlideData]:
    """Every slide under ``path`` (a folder or a ``.yaml``/``.yml`` manifest) as :class:`SlideData`."""
    path = Path(path)
    options = dict(options or {})
    if path.is_file() and path.suffix.lower() in (".yaml", ".yml"):
        slides = _read_manifest(path, options)
    else:
        slides = _read_one(path, format, options)
    seen: dict[str, Path] = {}
    for s in slides:
        if s.slide_id in seen:
            raise InputError(s.source, f"slide id {s.slide_id!r} is used twice (also by {seen[s.slide_id]}); "
                             "set slide_id in the manifest")
        seen[s.slide_id] = s.source
    return slides
