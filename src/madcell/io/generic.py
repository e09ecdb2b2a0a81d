"""Generic folder reader: any image plus a mask or polygons, with optional cell table and expression.

Layout (file names can be overridden by the options ``image``, ``labels``, ``polygons``, ``cells``,
``expression``; relative names are looked up in the folder)::

    image.ome.tif | image.tif | image.png | image.jpg   (C, H, W) multi-channel or RGB
    labels.tif | labels.npy                             integer mask, 0 = background
      or polygons.parquet | polygons.csv | polygons.geojson   (cell_id + x, y vertices;
                                                        option polygon_units: px (default) | um)
    cells.parquet | cells.csv                           optional: cell_id, label, x_px/y_px or x_um/y_um,
                                                        any further columns = labels (cell_type, niche, ...)
    expression.h5ad | expression.h5 | expression.csv    optional, aligned to the cell ids
    truth.parquet | truth.csv                           optional ground-truth features (madcell.io.truth;
                                                        the synthetic generator writes one), never labels

Without a cell table the cells come from the mask (``cell_id = str(label)``, pixel centroids).
The pixel size comes from ``pixel_size_um`` or else the OME metadata.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from madcell.errors import InputError
from madcell.io.base import SlideData
from madcell.io.cells import add_um, cells_from_mask, check_cells, check_table_against_mask, read_table
from madcell.io.expression import align_expression, read_expression
from madcell.io.images import open_image, open_labels
from madcell.io.options import check_options, micron_to_pixel
from madcell.io.polygons import polygon_cells, read_polygon_file
from madcell.io.truth import TRUTH_NAMES, read_truth

OPTIONS = {"image", "labels", "polygons", "cells", "expression", "truth", "polygon_units"}
IMAGE_NAMES = ("image.ome.tif", "image.ome.tiff", "image.tif", "image.tiff", "image.png", "image.jpg", "image.jpeg")
LABEL_NAMES = ("labels.tif", "labels.tiff", "labels.npy", "labels.png")
POLYGON_NAMES = ("polygons.parquet", "polygons.csv", "polygons.geojson")
CELL_NAMES = ("cells.parquet", "cells.csv")
EXPRESSION_NAMES = ("expression.h5ad", "expression.h5", "expression.csv")


def _find(folder: Path, given: str | None, names: tuple[str, ...]) -> Path | None:
    if given:
        path = Path(given) if Path(given).is_absolute() else folder / given
        if not path.exists():
            raise InputError(path, "file named in the options does not exist")
        return path
    return next((folder / n for n in names if (folder / n).is_file()), None)


def _cells_in_pixels(cells: pd.DataFrame, pixel_size: float | None, origin: tuple[float, float], path: Path):
    if "x_px" in cells and "y_px" in cells:
        return cells
    if "x_um" in cells and "y_um" in cells:
        if pixel_size is None:
            raise InputError(path, "cell table gives x_um/y_um only and the pixel size is unknown; give pixel_size_um")
        return cells.assign(x_px=(cells["x_um"] - origin[0]) / pixel_size, y_px=(cells["y_um"] - origin[1]) / pixel_size)
    return cells


def _with_polygons(folder, poly_path, table, table_path, shape, opts, meta_px):
    ids, rings = read_polygon_file(poly_path)
    units = opts.get("polygon_units", "px")
    if units in ("um", "µm"):
        to_px = micron_to_pixel(opts, poly_path, meta_px, what="polygons are in µm but the pixel size is unknown")
        rings = [np.column_stack(to_px(r[:, 0], r[:, 1])) for r in rings]
    elif units != "px":
        raise InputError(poly_path, f"option polygon_units must be 'px' or 'um', got {units!r}")
    labels, cells, dropped = polygon_cells(ids, rings, shape)
    if not len(cells):
        raise InputError(poly_path, "no polygon lies inside the image")
    if table is None:
        return labels, cells, dropped
    table = table.assign(cell_id=table["cell_id"].astype(str))
    missing = sorted(set(table["cell_id"]) - set(ids))
    if missing:
        raise InputError(table_path, f"{len(missing)} cells have no polygon in {poly_path.name} (e.g. {missing[:5]})")
    extra = sorted(set(ids) - set(table["cell_id"]))
    if extra:
        raise InputError(table_path, f"{len(extra)} polygons of {poly_path.name} have no row in the cell table "
                         f"(e.g. {extra[:5]})")
    table = table[table["cell_id"].isin(cells["cell_id"])].drop(columns=["label"], errors="ignore")
    merged = cells.merge(table, on="cell_id", how="left", suffixes=("_polygon", ""))
    # the table's centroids win over the polygon ones; a table without centroids (only labels) keeps them
    return labels, merged.drop(columns=["x_px_polygon", "y_px_polygon"], errors="ignore"), dropped


def read_generic(path: str | Path, options: dict | None = None) -> list[SlideData]:
    folder = Path(path)
    opts = check_options(options, OPTIONS, folder, "generic")
    if not folder.is_dir():
        raise InputError(folder, "not a folder")
    image_path = _find(folder, opts.get("image"), IMAGE_NAMES)
    if image_path is None:
        raise InputError(folder, f"no image found (expected one of {list(IMAGE_NAMES)} or option image)")
    image, meta_px = open_image(image_path, opts.get("channels"))
    pixel_size = opts.get("pixel_size_um") or meta_px
    origin = opts.get("origin_um") or (0.0, 0.0)
    shape = tuple(image.shape[1:])
    cells_path = _find(folder, opts.get("cells"), CELL_NAMES)
    table = read_table(cells_path) if cells_path else None
    if table is not None:
        if "cell_id" not in table:
            raise InputError(cells_path, "cell table has no 'cell_id' column")
        table = _cells_in_pixels(table, pixel_size, origin, cells_path)
    labels_path = _find(folder, opts.get("labels"), LABEL_NAMES)
    poly_path = _find(folder, opts.get("polygons"), POLYGON_NAMES) if labels_path is None else None
    dropped: list[str] = []
    if labels_path is not None:
        labels = open_labels(labels_path)
        if tuple(labels.shape) != shape:
            raise InputError(labels_path, f"mask shape {tuple(labels.shape)} does not match image shape {shape} "
                             f"of {image_path.name}")
        if table is None:
            cells = cells_from_mask(labels, labels_path)
        else:
            if "label" not in table:
                if not table["cell_id"].astype(str).str.fullmatch(r"\d+").all():
                    raise InputError(cells_path, "cell table has no 'label' column (the mask value of each cell)")
                table = table.assign(label=table["cell_id"].astype(np.int64))
            cells = check_table_against_mask(table, labels, cells_path, labels_path)
    elif poly_path is not None:
        labels, cells, dropped = _with_polygons(folder, poly_path, table, cells_path, shape, opts, meta_px)
    else:
        raise InputError(folder, f"no segmentation found (expected one of {list(LABEL_NAMES + POLYGON_NAMES)})")
    seg_path = labels_path or poly_path
    cells = add_um(check_cells(cells, cells_path or seg_path), pixel_size, origin)
    expr_path = _find(folder, opts.get("expression"), EXPRESSION_NAMES)
    expression = align_expression(read_expression(expr_path), cells["cell_id"], expr_path) if expr_path else None
    truth_path = _find(folder, opts.get("truth"), TRUTH_NAMES)
    truth = read_truth(truth_path, cells["cell_id"]) if truth_path else None
    slide_id = str(opts.get("slide_id") or folder.resolve().name)
    return [SlideData(image=image, labels=labels, cells=cells, pixel_size_um=pixel_size, slide_id=slide_id,
                      source=folder, expression=expression, truth=truth,
                      meta={"format": "generic", "image": str(image_path), "segmentation": str(seg_path),
                            "origin_um": tuple(origin), "dropped_cells": dropped})]
