"""``segment``: an image -> a folder that ``madcell prepare`` reads with the generic reader.

Output folder::

    labels.tif     uint32 cell labels (nuclei grown by ``expand_um``), 0 = background, tiled TIFF
    nuclei.tif     uint32 nucleus labels, the same label as their cell
    cells.csv      cell_id (= str(label)), label, x_px, y_px (cell centroid); optional
    image.<ext>    a symbolic link to the input image (a copy where links are not possible)
    segment.json   the settings, the slide-wide threshold, counts and wall time

Everything is checked before any work (bad input -> :class:`~madcell.errors.InputError`, nothing
written); each file is written atomically and ``labels.tif``, the file the reader looks for, last.
Lengths are in µm and converted with the pixel size of the image metadata or ``pixel_size_um``.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import numpy as np

from madcell.errors import InputError
from madcell.io.images import open_image
from madcell.segment.adapters import CellposeSegmenter, StarDistSegmenter, check_method
from madcell.segment.skimage_seg import SkimageSegmenter, smooth_sigma
from madcell.segment.stain import resolve_stain, sample_stats
from madcell.segment.tiled import Canvas, halo_px, segment_tiles
from madcell.utils.atomic import atomic_path, atomic_write_text

METHODS = ("skimage", "stardist", "cellpose")
MIN_DIAMETER_PX, MIN_TILE = 4.0, 64


def _positive(value: float, option: str, allow_zero: bool = False) -> float:
    value = float(value)
    if not np.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        raise InputError(option, f"must be {'>= 0' if allow_zero else 'positive'}, got {value:g}")
    return value


def _image_name(path: Path) -> str:
    """The generic reader's name for the image: image.ome.tif, image.tif, image.png, ..."""
    name = path.name.lower()
    return "image.ome" + name[name.rindex(".ome.") + 4 :] if ".ome." in name else "image" + path.suffix.lower()


def _link_image(image: Path, out: Path) -> str:
    """Point the output folder's image name at the input image; returns the name used."""
    name = _image_name(image)
    target = out / name
    if target.exists() and os.path.samefile(target, image):
        return name
    for old in out.glob("image.*"):  # a previous run's link to another image would be read first
        if old.is_symlink():
            old.unlink()
    with atomic_path(target) as tmp:
        try:
            tmp.symlink_to(image.resolve())
        except OSError:
            shutil.copyfile(image, tmp)
    return name


def segment(input: str | Path, out: str | Path, modality: str = "auto", channel: str | None = None,
            pixel_size_um: float | None = None, nucleus_diameter_um: float = 8.0, expand_um: float = 3.0,
            tile_size: int = 2048, method: str = "skimage", model: str | Path | None = None,
            cells_table: bool = True, progress: bool = True) -> dict:
    """Segment nuclei (and approximate cells) of ``input`` into the folder ``out``; returns the
    summary written to ``segment.json``."""
    t0 = time.perf_counter()
    input, out = Path(input), Path(out)
    d_um, e_um = _positive(nucleus_diameter_um, "--nucleus-diameter-um"), _positive(expand_um, "--expand-um", True)
    if int(tile_size) < MIN_TILE:
        raise InputError("--tile-size", f"must be at least {MIN_TILE} px, got {tile_size}")
    if method not in METHODS:
        raise InputError("--method", f"must be one of {', '.join(METHODS)}, got {method!r}")
    if method != "skimage":
        check_method(method, None if model is None else Path(model))
    elif model is not None:
        raise InputError("--model", "is for --method stardist or cellpose")
    if (out / "labels.tif").exists() and not (out / "segment.json").exists():
        raise InputError(out, "already holds a labels.tif that madcell segment did not write; choose another --out")
    image, meta_px = open_image(input)
    ps = _positive(pixel_size_um, "--pixel-size-um") if pixel_size_um is not None else meta_px
    if ps is None:
        raise InputError(input, "the image metadata gives no pixel size; give --pixel-size-um")
    d_px, e_px = d_um / ps, e_um / ps
    if d_px < MIN_DIAMETER_PX:
        raise InputError("--nucleus-diameter-um", f"{d_um:g} µm is {d_px:.1f} px at {ps:g} µm/px: nuclei "
                                                  f"under {MIN_DIAMETER_PX:g} px cannot be segmented")
    stain = resolve_stain(image, input, modality, channel)
    stats = sample_stats(image, stain, smooth_sigma(d_px), input)
    if method == "skimage":
        segmenter = SkimageSegmenter(stain, stats.otsu, d_px)
    elif method == "stardist":
        segmenter = StarDistSegmenter(Path(model), stain, stats)
    else:
        segmenter = CellposeSegmenter(Path(model), stain, stats, d_px)

    settings = {"method": method, "model": None if model is None else str(model), "modality": stain.modality,
                "nuclear_signal": stain.channel_name, "pixel_size_um": ps, "nucleus_diameter_um": d_um,
                "expand_um": e_um, "tile_size": int(tile_size), "halo_px": halo_px(d_px, e_px),
                "otsu_threshold": stats.otsu}
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    try:
        return _segment_into(out, input, image, segmenter, d_px, e_px, int(tile_size), ps, cells_table, progress,
                             settings, t0)
    except BaseException:
        if created and not any(out.iterdir()):  # leave no empty output folder behind
            out.rmdir()
        raise


def _segment_into(out: Path, input: Path, image, segmenter, d_px: float, e_px: float, tile: int, ps: float,
                  cells_table: bool, progress: bool, settings: dict, t0: float) -> dict:
    _, H, W = image.shape
    cells_canvas = Canvas(out / f".segment-cells-{os.getpid()}.raw", H, W)
    nuclei_canvas = Canvas(out / f".segment-nuclei-{os.getpid()}.raw", H, W)
    try:
        table = segment_tiles(image, segmenter, d_px, e_px, tile, cells_canvas, nuclei_canvas, progress)
        if table.empty:
            raise InputError(input, f"no nuclei found in the {settings['nuclear_signal']} signal (check "
                                    "--modality, --channel and --nucleus-diameter-um)")
        return _write(out, input, table, cells_canvas, nuclei_canvas, ps, cells_table, settings, t0)
    finally:
        cells_canvas.close()
        nuclei_canvas.close()


def _write(out: Path, image: Path, table, cells: Canvas, nuclei: Canvas, ps: float, cells_table: bool,
           settings: dict, t0: float) -> dict:
    from madcell import __version__
    from madcell.synthetic.writer import write_tiff

    (out / "labels.tif").unlink(missing_ok=True)  # the old labels must not outlive the files below
    write_tiff(out / "nuclei.tif", nuclei, None, ps)
    if cells_table:
        cells_csv = table.assign(cell_id=table["label"].astype(str))[["cell_id", "label", "x_px", "y_px"]]
        with atomic_path(out / "cells.csv") as tmp:
            cells_csv.to_csv(tmp, index=False)
    else:
        (out / "cells.csv").unlink(missing_ok=True)
    summary = {"input": str(image), "image": _link_image(image, out), **settings, "n_cells": len(table),
               "median_cell_area_um2": float(np.median(table["area_px"]) * ps * ps),
               "median_nucleus_area_um2": float(np.median(table["nucleus_area_px"]) * ps * ps),
               "wall_s": round(time.perf_counter() - t0, 2), "madcell_version": __version__}
    atomic_write_text(out / "segment.json", json.dumps(summary, indent=2))
    write_tiff(out / "labels.tif", cells, None, ps)
    return summary
