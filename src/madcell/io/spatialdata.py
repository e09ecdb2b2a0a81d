"""SpatialData zarr reader (optional dependency ``madcell[spatialdata]``).

Picks, in one coordinate system (option ``coordinate_system``; default ``global``, or the only one):

* the **image** element (option ``image``; else the only one), at the pyramid **level** that matches
  the views (option ``level``: ``auto`` | an index): ``auto`` takes the coarsest level on which the
  median cell is still at least ``min_cell_px`` pixels across (``prepare`` sets it to the morphology
  view's side), since a view resized down from a finer level shows nothing more;
* the **segmentation**: a labels element (option ``labels``) or a shapes element of polygons (option
  ``shapes``); else the element the table annotates, else the only one. Labels on another grid are
  sampled onto the image's by nearest neighbour; polygons are mapped through the transformations and
  rasterised on demand;
* the **table** annotating that element (option ``table``): joined on its ``instance_key``;
  ``X`` -> expression, text columns of ``obs`` -> label columns. Cells without a table row, and rows
  whose instance is not in the segmentation, are left out and counted in ``meta``.

``cell_id`` = the instance id as text (label value or shape index); centroids come from the
geometry (polygon area centroid, mean pixel of a label), unless the table's ``obsm['spatial']`` (µm, as
spatialdata-io writes Xenium's centroids) agrees with them within a pixel: then the table's win, as
the generic reader's cell table wins over its polygons. The coordinate system is taken as µm (its
scale gives the pixel size) unless ``pixel_size_um`` (µm per pixel of the image's finest level) is
given, e.g. for a spatialdata-io Xenium object, whose ``global`` system is in pixels.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from madcell.errors import InputError
from madcell.io.base import SlideData
from madcell.io.cells import add_um, check_cells, mask_stats
from madcell.io.images import select_channels
from madcell.io.options import check_options
from madcell.io.polygons import polygon_cells
from madcell.io.sdata_elements import (ZarrImage, ZarrLabels, affine, cs_to_pixels, is_axis_aligned, level0,
                                       pick, zarr_levels)
from madcell.io.options import MicronToPixel
from madcell.io.sdata_table import join_table, pixel_size, table_centroids

OPTIONS = {"image", "labels", "shapes", "table", "coordinate_system", "level", "min_cell_px"}


def is_spatialdata(folder: Path) -> bool:
    """A zarr group whose root attributes say SpatialData."""
    for name in ("zarr.json", ".zattrs"):
        f = Path(folder) / name
        if f.is_file() and "spatialdata_attrs" in f.read_text(errors="ignore")[:4096]:
            return True
    return False


def require_spatialdata(path) -> None:
    """InputError naming ``path`` when the optional ``spatialdata`` package is not installed."""
    try:
        import spatialdata  # noqa: F401
    except ImportError:
        raise InputError(path, "SpatialData needs the optional dependencies: pip install 'madcell[spatialdata]'") from None
    import logging

    logging.getLogger("ome_zarr").setLevel(logging.ERROR)  # "no parent found for <Label>" on every labels read


def _open(folder: Path):
    require_spatialdata(folder)
    import spatialdata

    try:
        return spatialdata.read_zarr(folder)
    except Exception as exc:
        raise InputError(folder, f"cannot read SpatialData ({type(exc).__name__}: {exc})") from None


def _in_cs(sdata, group: str, cs: str) -> list[str]:
    from spatialdata.transformations import get_transformation

    return [n for n, el in getattr(sdata, group).items() if cs in get_transformation(el, get_all=True)]


def _polygons(gdf, name: str, folder: Path) -> tuple[list[str], list[np.ndarray]]:
    import shapely

    kinds = set(shapely.get_type_id(gdf.geometry.values).tolist())
    if kinds & {0, 4} or "radius" in gdf:  # points / circles: spots, not cell outlines
        raise InputError(folder, f"shapes element {name!r} holds circles or points, not cell polygons; "
                                 "name a polygon shapes element or a labels element")
    rings = []
    for geom in gdf.geometry.values:
        if geom.geom_type == "MultiPolygon":
            geom = max(geom.geoms, key=lambda g: g.area)
        rings.append(np.asarray(geom.exterior.coords, dtype=np.float64)[:, :2])
    return [str(i) for i in gdf.index], rings


def _choose_level(levels, d0: float, min_px: float, given, folder: Path) -> int:
    if given is not None and str(given) != "auto":
        try:
            k = int(given)
        except ValueError:
            raise InputError(folder, f"option level must be 'auto' or a level index, got {given!r}") from None
        if not 0 <= k < len(levels):
            raise InputError(folder, f"option level {k}: the image has levels 0..{len(levels) - 1}")
        return k
    ok = [k for k, (_, (sx, sy)) in enumerate(levels) if d0 / max(sx, sy) >= min_px]
    return max(ok) if ok else 0


def read_spatialdata(path: str | Path, options: dict | None = None) -> list[SlideData]:
    folder = Path(path)
    opts = check_options(options, OPTIONS, folder, "spatialdata")
    sdata = _open(folder)
    systems = list(sdata.coordinate_systems)
    cs = opts.get("coordinate_system") or ("global" if "global" in systems else (systems[0] if len(systems) == 1 else None))
    if cs not in systems:
        raise InputError(folder, f"coordinate system {cs!r} not found; name one with --option coordinate_system=NAME "
                                 f"(it has: {', '.join(systems) or 'none'})")
    img_name = pick("image", _in_cs(sdata, "images", cs), opts.get("image"), folder)
    if img_name is None:
        raise InputError(folder, f"no image element in coordinate system {cs!r}")
    seg_kind, seg_name = _segmentation(sdata, cs, opts, folder)
    seg = getattr(sdata, seg_kind)[seg_name]
    img_levels = zarr_levels(folder, "images", img_name)
    a_img0 = affine(sdata.images[img_name], cs)
    # segmentation intrinsic -> image level-0 intrinsic
    to_img0 = np.linalg.solve(a_img0, affine(seg, cs))
    if seg_kind == "shapes":
        import shapely

        ids, rings = _polygons(seg, seg_name, folder)
        areas = shapely.area(seg.geometry.values) * abs(np.linalg.det(to_img0[:2, :2]))  # in level-0 pixels
        d0 = 2 * np.sqrt(np.median(areas) / np.pi) if len(areas) else 0.0
    else:
        lab_arr = level0(seg)
        if not is_axis_aligned(to_img0):
            raise InputError(folder, f"labels {seg_name!r} are rotated or sheared against image {img_name!r}; "
                                     "madcell samples labels onto the image grid only by scale and shift")
        lab_levels = zarr_levels(folder, "labels", seg_name)
        raw = ZarrLabels(folder, lab_levels[0][0], lab_arr.shape, np.eye(3), lab_arr.shape)
        stats = mask_stats(raw)
        if stats.empty:
            raise InputError(folder / "labels" / seg_name, "label mask is empty (no pixel > 0)")
        d0 = 2 * np.sqrt(np.median(stats["count"]) * abs(np.linalg.det(to_img0[:2, :2])) / np.pi)
    k = _choose_level(img_levels, d0, float(opts.get("min_cell_px") or 70), opts.get("level"), folder)
    arr_path, (sx, sy) = img_levels[k]
    img0 = level0(sdata.images[img_name])
    shape_k = tuple(int(v) for v in (sdata.images[img_name][f"scale{k}"].image.shape if k else img0.shape))
    to_level = np.diag([1 / sx, 1 / sy, 1.0])  # level-0 intrinsic -> level-k intrinsic
    names = [str(c) for c in img0.coords["c"].values] if "c" in img0.coords else [f"ch{i}" for i in range(shape_k[0])]
    image = ZarrImage(folder, arr_path, shape_k, img0.dtype, names)
    if opts.get("channels"):
        image = select_channels(image, opts["channels"], folder)
    seg_to_level = to_level @ to_img0
    if seg_kind == "shapes":
        to_px = cs_to_pixels(a_img0 @ np.linalg.inv(to_level))
        a_seg = affine(seg, cs)
        rings_cs = rings if np.array_equal(a_seg, np.eye(3)) else [r @ a_seg[:2, :2].T + a_seg[:2, 2] for r in rings]
        rings_px = [np.column_stack(to_px(r[:, 0], r[:, 1])) for r in rings_cs]
        labels, cells, dropped = polygon_cells(ids, rings_px, shape_k[1:])
        if not len(cells):
            raise InputError(folder, f"no polygon of {seg_name!r} lies inside image {img_name!r}")
    else:
        labels = ZarrLabels(folder, lab_levels[0][0], lab_arr.shape, np.linalg.inv(seg_to_level), shape_k[1:])
        x = seg_to_level[0, 0] * (stats["x_px"].to_numpy() + 0.5) + seg_to_level[0, 2] - 0.5
        y = seg_to_level[1, 1] * (stats["y_px"].to_numpy() + 0.5) + seg_to_level[1, 2] - 0.5
        cells = pd.DataFrame({"cell_id": stats["label"].astype(str), "label": stats["label"], "x_px": x, "y_px": y})
        dropped = []
    a_level = a_img0 @ np.linalg.inv(to_level)  # level-k intrinsic -> coordinate system
    cs_xy = np.column_stack([cells["x_px"] + 0.5, cells["y_px"] + 0.5]) @ a_level[:2, :2].T + a_level[:2, 2]
    cells, expression, meta, spatial = join_table(sdata, seg_name, cells, opts.get("table"), folder)
    cs_xy = cs_xy[meta.pop("kept")]
    ps, um, meta["pixel_size_source"] = pixel_size(a_level, cs_xy, spatial, opts.get("pixel_size_um"), max(sx, sy), folder)
    if um is None:
        cells = add_um(cells, ps, opts.get("origin_um") or (0.0, 0.0))
    else:
        cells = cells.assign(x_um=um[:, 0], y_um=um[:, 1])
    if spatial is not None and ps is not None:
        to_px = cs_to_pixels(a_level) if meta["pixel_size_source"].startswith("the image's") else \
            MicronToPixel.from_scale(ps, tuple((cells[["x_um", "y_um"]].to_numpy() - ps * cells[["x_px", "y_px"]].to_numpy()).mean(0)))
        cells, meta["centroid_source"] = table_centroids(cells, spatial, to_px)
    cells = check_cells(cells, folder)
    meta.update(format="spatialdata", image=img_name, segmentation=f"{seg_kind}/{seg_name}", coordinate_system=cs,
                level=k, level_shape=list(shape_k), dropped_cells=dropped,
                origin_um=tuple(opts.get("origin_um") or (0.0, 0.0)) if um is None or ps is None else  # of pixel (0, 0)
                tuple(float(v) for v in (cells[["x_um", "y_um"]].to_numpy() - ps * cells[["x_px", "y_px"]].to_numpy()).mean(axis=0)))
    return [SlideData(image=image, labels=labels, cells=cells, pixel_size_um=ps,
                      slide_id=str(opts.get("slide_id") or folder.resolve().name.removesuffix(".zarr")),
                      source=folder, expression=expression, meta=meta)]


def _segmentation(sdata, cs: str, opts: dict, folder: Path) -> tuple[str, str]:
    if opts.get("labels") and opts.get("shapes"):
        raise InputError(folder, "give either option labels or option shapes, not both")
    if opts.get("labels"):
        return "labels", pick("labels", _in_cs(sdata, "labels", cs), opts["labels"], folder)
    if opts.get("shapes"):
        return "shapes", pick("shapes", _in_cs(sdata, "shapes", cs), opts["shapes"], folder)
    labels, shapes = _in_cs(sdata, "labels", cs), _in_cs(sdata, "shapes", cs)
    annotated = {str(r) for t in sdata.tables.values()
                 for r in np.atleast_1d(t.uns.get("spatialdata_attrs", {}).get("region", []))}
    candidates = [("labels", n) for n in labels if n in annotated] + [("shapes", n) for n in shapes if n in annotated]
    if opts.get("table") in sdata.tables:
        region = {str(r) for r in np.atleast_1d(sdata.tables[opts["table"]].uns["spatialdata_attrs"]["region"])}
        candidates = [c for c in candidates if c[1] in region]
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        candidates = [("labels", n) for n in labels] or [("shapes", n) for n in shapes]
    if len(candidates) == 1:
        return candidates[0]
    listed = ", ".join(f"{k} {n!r}" for k, n in candidates)
    raise InputError(folder, (f"cannot tell which segmentation to use ({listed}); name one with --option labels=NAME "
                              "or --option shapes=NAME") if candidates else f"no labels or shapes element in {cs!r}")
