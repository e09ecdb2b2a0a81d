"""10x Xenium output folder ("outs") reader.

* image: ``morphology_focus.ome.tif`` (else ``morphology_focus/`` multi-file OME, ``morphology_mip.ome.tif``,
  ``morphology.ome.tif``), level 0, read lazily;
* pixel size from OME ``PhysicalSizeX`` — never a constant, because downsampled or cropped exports
  change it; when absent the reader refuses to guess (give ``pixel_size_um`` and ``origin_um``);
  µm -> pixel is ``(x - origin) / pixel_size`` with origin (0, 0) unless given;
* mask: ``cell_boundaries.parquet`` (or ``.csv.gz``) polygons rasterised on demand; their ``cell_id``
  may be stored as bytes;
* cells: ``cells.parquet`` (or ``.csv.gz``) in file order; centroids from ``x_centroid``/``y_centroid``;
* labels: ``analysis/clustering/<name>/clusters.csv`` -> columns ``xenium_<name>`` (e.g. ``xenium_graphclust``);
* expression: ``cell_feature_matrix.h5``, 'Gene Expression' features only (controls summed into
  ``obs['control_counts']``);
* ``transcripts.parquet`` converted to pixels when ``keep_transcripts`` is true.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from madcell.errors import InputError
from madcell.io.annotations import xenium_clusters
from madcell.io.base import SlideData
from madcell.io.cells import check_cells, read_table
from madcell.io.expression import align_expression, read_10x_h5
from madcell.io.images import open_image
from madcell.io.options import check_options, micron_to_pixel
from madcell.io.polygons import polygon_cells, rings_from_vertices

OPTIONS = {"image"}
IMAGE_NAMES = ("morphology_focus.ome.tif", "morphology_mip.ome.tif", "morphology.ome.tif")


def _first(folder: Path, names: tuple[str, ...]) -> Path | None:
    return next((folder / n for n in names if (folder / n).is_file()), None)


def _image_path(folder: Path, given: str | None) -> Path:
    if given:
        return Path(given) if Path(given).is_absolute() else folder / given
    path = _first(folder, IMAGE_NAMES[:1])
    if path is None and (folder / "morphology_focus").is_dir():
        parts = sorted((folder / "morphology_focus").glob("*.ome.tif"))
        path = parts[0] if parts else None
    path = path or _first(folder, IMAGE_NAMES[1:])
    if path is None:
        raise InputError(folder, f"no Xenium morphology image (expected one of {list(IMAGE_NAMES)})")
    return path


def _decode(values: pd.Series) -> np.ndarray:
    return values.map(lambda v: v.decode() if isinstance(v, bytes) else str(v)).to_numpy()


def read_xenium(path: str | Path, options: dict | None = None) -> list[SlideData]:
    folder = Path(path)
    opts = check_options(options, OPTIONS, folder, "xenium")
    image_path = _image_path(folder, opts.get("image"))
    image, meta_px = open_image(image_path, opts.get("channels"))
    to_px = micron_to_pixel(opts, image_path, meta_px)
    shape = tuple(image.shape[1:])

    cells_path = _first(folder, ("cells.parquet", "cells.csv.gz", "cells.csv"))
    bounds_path = _first(folder, ("cell_boundaries.parquet", "cell_boundaries.csv.gz", "cell_boundaries.csv"))
    if cells_path is None or bounds_path is None:
        raise InputError(folder, "Xenium outs need cells.parquet and cell_boundaries.parquet")
    table = read_table(cells_path)
    bounds = read_table(bounds_path)
    for col, df, p in (("cell_id", table, cells_path), ("x_centroid", table, cells_path),
                       ("vertex_x", bounds, bounds_path), ("vertex_y", bounds, bounds_path)):
        if col not in df:
            raise InputError(p, f"no '{col}' column")
    table = table.assign(cell_id=_decode(table["cell_id"]))
    ids, rings_um = rings_from_vertices(_decode(bounds["cell_id"]), bounds["vertex_x"].to_numpy(),
                                        bounds["vertex_y"].to_numpy())
    missing = sorted(set(table["cell_id"]) - set(ids))
    if missing:
        raise InputError(bounds_path, f"{len(missing)} cells of {cells_path.name} have no boundary (e.g. {missing[:5]})")
    extra = sorted(set(ids) - set(table["cell_id"]))
    if extra:
        raise InputError(bounds_path, f"{len(extra)} boundaries have no row in {cells_path.name} (e.g. {extra[:5]})")
    pos = pd.Index(ids).get_indexer(table["cell_id"])
    rings = [np.column_stack(to_px(rings_um[i][:, 0], rings_um[i][:, 1])) for i in pos]
    labels, pcells, dropped = polygon_cells(list(table["cell_id"]), rings, shape)
    if not len(pcells):
        raise InputError(bounds_path, "no cell boundary lies inside the image (check pixel_size_um / origin_um)")
    table = table.set_index("cell_id").loc[pcells["cell_id"]].reset_index()
    x_px, y_px = to_px(table["x_centroid"].to_numpy(), table["y_centroid"].to_numpy())
    cells = pd.DataFrame({"cell_id": table["cell_id"].to_numpy(), "label": pcells["label"].to_numpy(),
                          "x_px": x_px, "y_px": y_px, "x_um": table["x_centroid"].to_numpy(),
                          "y_um": table["y_centroid"].to_numpy()})
    cells = check_cells(cells, cells_path)
    clusters = xenium_clusters(folder)  # Xenium Ranger's clusterings become label columns
    if clusters is not None:
        cells = cells.join(clusters, on="cell_id")

    expression = None
    h5 = folder / "cell_feature_matrix.h5"
    if h5.is_file():
        expression = align_expression(read_10x_h5(h5), cells["cell_id"], h5)

    transcripts = None
    tx_path = _first(folder, ("transcripts.parquet", "transcripts.csv.gz"))
    if opts.get("keep_transcripts") and tx_path is not None:
        tx = read_table(tx_path)
        tx_x, tx_y = to_px(tx["x_location"].to_numpy(), tx["y_location"].to_numpy())
        cid = pd.Series(_decode(tx["cell_id"]))
        cid[cid.isin(["UNASSIGNED", "-1", "0", ""])] = ""
        transcripts = pd.DataFrame({"x_px": tx_x, "y_px": tx_y, "gene": _decode(tx["feature_name"]),
                                    "cell_id": cid.to_numpy()})
    return [SlideData(image=image, labels=labels, cells=cells, pixel_size_um=to_px.pixel_size_um,
                      slide_id=str(opts.get("slide_id") or folder.resolve().name), source=folder,
                      expression=expression, transcripts=transcripts,
                      meta={"format": "xenium", "image": str(image_path), "origin_um": to_px.origin_um,
                            "dropped_cells": dropped})]
