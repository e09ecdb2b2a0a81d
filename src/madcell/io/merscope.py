"""Vizgen MERSCOPE output reader (one z plane per SlideData).

* images: ``images/<prefix>_<stain>_z{N}.(tif|jpg|png)`` — ``mosaic_DAPI_z0.tif`` in real outs,
  ``mini_dataset_dapi_z0.jpg`` in Giotto's mini set; every stain of plane ``z`` becomes a channel
  (DAPI first);
* µm -> pixel: ``images/micron_to_mosaic_pixel_transform.csv`` (3x3 affine) if present, else the
  ``transform`` option (3x3), else ``pixel_size_um`` + ``origin_um``; there is no safe default, so
  the reader stops with an error when none is given;
* polygons: ``cell_boundaries/z{N}_polygons.gz`` (CSV ``x, y, poly_ID``; the 38-digit ids are read
  as strings; a table whose ``y`` values are all negative stores ``-y`` and is flipped back), or
  Vizgen's ``cell_boundaries.parquet`` (``EntityID``, ``ZIndex``, WKB ``Geometry``); rasterised on
  demand;
* expression: transcripts of the same z (``detected_transcripts.csv`` / ``vizgen_transcripts.gz``:
  ``global_x``, ``global_y`` µm, ``gene``, ``global_z``) counted per cell by point-in-polygon;
  ``Blank-*`` codewords stay out of ``X``;
* labels: text columns of ``cell_metadata.csv`` (joined on ``EntityID``), when there is one.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from madcell.errors import InputError
from madcell.io.base import SlideData
from madcell.io.cells import check_cells, read_table
from madcell.io.images import StackedImage, open_image, select_channels
from madcell.io.options import MicronToPixel, check_options, micron_to_pixel
from madcell.io.polygons import polygon_cells, rings_from_vertices, shapely_polygons
from madcell.io.transcripts import assign_points, count_matrix

OPTIONS = {"z", "transform"}
BLANKS = r"^(Blank-|BLANK)"
TRANSCRIPT_NAMES = ("detected_transcripts.csv", "detected_transcripts.csv.gz", "vizgen_transcripts.gz")


def _images(folder: Path, z: int) -> tuple[list[Path], list[str]]:
    found = []
    for p in sorted((folder / "images").glob(f"*_z{z}.*")):
        m = re.match(rf"(?:.*_)?([^_]+)_z{z}\.(tiff?|jpe?g|png)$", p.name, flags=re.I)
        if m:
            found.append((0 if m.group(1).lower() == "dapi" else 1, m.group(1), p))
    if not found:
        raise InputError(folder / "images", f"no mosaic image for z plane {z} (expected images/*_<stain>_z{z}.tif)")
    found.sort()
    return [p for _, _, p in found], [s for _, s, _ in found]


def _polygons(folder: Path, z: int) -> tuple[list[str], list[np.ndarray], Path]:
    gz = folder / "cell_boundaries" / f"z{z}_polygons.gz"
    if gz.is_file():
        df = read_table(gz, dtype={"poly_ID": str})
        for col in ("x", "y", "poly_ID"):
            if col not in df:
                raise InputError(gz, f"polygon table has no '{col}' column")
        y = df["y"].to_numpy(float)
        if len(y) and np.nanmax(y) < 0:  # stored as -y (Giotto export); µm coordinates are positive
            y = -y
        ids, rings = rings_from_vertices(df["poly_ID"].to_numpy(), df["x"].to_numpy(float), y)
        return ids, rings, gz
    pq = folder / "cell_boundaries.parquet"
    if pq.is_file():
        import shapely

        df = read_table(pq)
        if "ZIndex" in df:
            df = df[df["ZIndex"] == z]
        try:
            geoms = shapely.from_wkb(df["Geometry"].to_numpy())
        except Exception as exc:
            raise InputError(pq, f"cannot decode Geometry ({type(exc).__name__}: {exc})") from None
        rings = []
        for g in geoms:
            if g.geom_type == "MultiPolygon":
                g = max(g.geoms, key=lambda p: p.area)
            rings.append(np.asarray(g.exterior.coords)[:, :2])
        return [str(v) for v in df["EntityID"]], rings, pq
    raise InputError(folder, f"no cell boundaries (expected cell_boundaries/z{z}_polygons.gz or cell_boundaries.parquet)")


def _transform(folder: Path, opts: dict) -> MicronToPixel:
    csv = folder / "images" / "micron_to_mosaic_pixel_transform.csv"
    if opts.get("transform") is None and not opts.get("pixel_size_um") and csv.is_file():
        try:
            return MicronToPixel(np.loadtxt(csv).reshape(3, 3))
        except Exception as exc:
            raise InputError(csv, f"cannot read the 3x3 transform ({type(exc).__name__}: {exc})") from None
    return micron_to_pixel(opts, folder / "images", None,
                           what="no micron_to_mosaic_pixel_transform.csv and no transform option (3x3 µm -> px)")


def read_merscope(path: str | Path, options: dict | None = None) -> list[SlideData]:
    folder = Path(path)
    opts = check_options(options, OPTIONS, folder, "merscope")
    z = int(opts.get("z") or 0)
    to_px = _transform(folder, opts)
    paths, stains = _images(folder, z)
    parts = [open_image(p)[0] for p in paths]
    for p, part in zip(paths, parts):
        if part.shape[0] != 1:
            raise InputError(p, f"expected a single-channel mosaic, got {part.shape[0]} channels")
        if part.shape[1:] != parts[0].shape[1:]:
            raise InputError(p, f"mosaic shape {part.shape[1:]} differs from {paths[0].name} {parts[0].shape[1:]}")
    image = parts[0] if len(parts) == 1 else StackedImage(parts, stains)
    image.channel_names = stains
    if opts.get("channels"):
        image = select_channels(image, opts["channels"], folder / "images")
    ids, rings_um, poly_path = _polygons(folder, z)
    rings_px = [np.column_stack(to_px(r[:, 0], r[:, 1])) for r in rings_um]
    labels, cells, dropped = polygon_cells(ids, rings_px, tuple(image.shape[1:]))
    if not len(cells):
        raise InputError(poly_path, "no cell polygon lies inside the image (check the transform)")
    cells = check_cells(cells, poly_path)
    cells["x_um"], cells["y_um"] = to_px.to_um(cells["x_px"].to_numpy(), cells["y_px"].to_numpy())
    kept = pd.Index(ids).get_indexer(cells["cell_id"])
    meta_path = folder / "cell_metadata.csv"
    if meta_path.is_file():  # text columns of Vizgen's cell metadata (e.g. an exported cell type) as labels
        from madcell.io.annotations import metadata_labels

        mt = read_table(meta_path, dtype={"EntityID": str})
        key = "EntityID" if "EntityID" in mt else mt.columns[0]
        found = metadata_labels(mt, mt[key].astype(str), meta_path)
        if found is not None:
            cells = cells.join(found, on="cell_id")

    expression, transcripts = None, None
    tx_path = next((folder / n for n in TRANSCRIPT_NAMES if (folder / n).is_file()), None)
    if tx_path is not None:
        tx = read_table(tx_path, usecols=["global_x", "global_y", "gene", "global_z"])
        panel = sorted(g for g in tx["gene"].astype(str).unique() if not re.match(BLANKS, g))
        tx = tx[tx["global_z"] == z]
        index = assign_points(tx["global_x"].to_numpy(), tx["global_y"].to_numpy(),
                              shapely_polygons([rings_um[i] for i in kept]))
        expression = count_matrix(index, tx["gene"].to_numpy(), list(cells["cell_id"]), exclude=BLANKS,
                                  gene_names=panel)
        if opts.get("keep_transcripts"):
            x_px, y_px = to_px(tx["global_x"].to_numpy(), tx["global_y"].to_numpy())
            cid = np.where(index >= 0, cells["cell_id"].to_numpy()[index], "")
            transcripts = pd.DataFrame({"x_px": x_px, "y_px": y_px, "gene": tx["gene"].astype(str).to_numpy(),
                                        "cell_id": cid})
    slide_id = str(opts.get("slide_id") or f"{folder.resolve().name}_z{z}")
    return [SlideData(image=image, labels=labels, cells=cells, pixel_size_um=to_px.pixel_size_um, slide_id=slide_id,
                      source=folder, expression=expression, transcripts=transcripts,
                      meta={"format": "merscope", "z": z, "images": [str(p) for p in paths],
                            "segmentation": str(poly_path), "transform": to_px.matrix.tolist(),
                            "dropped_cells": dropped})]
