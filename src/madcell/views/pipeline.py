"""``prepare``: slides -> one view store, streaming unit by unit, optionally over worker processes.

Order of work: validate everything (nothing is written if that fails) -> per slide, normalisation
statistics from a tile sample and the microenvironment side from the centroids -> work units
(:mod:`madcell.views.geometry`) -> each unit's views are made (in-process, or by ``workers``
processes that each read their own window) and encoded (LZF) -> the parent writes units in their
fixed order into a store created atomically -> the lazy store's normalised slides, or the materialised
store's slide thumbnails (:mod:`madcell.views.thumbnail`). So the store's bytes do not depend on
``workers``, memory holds a bounded number of units, and a failed or killed run leaves no
complete-looking file.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import pickle
import shutil
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Sequence

import numpy as np

from madcell.config import default_config, load_config, merge
from madcell.data.store import create_store, encode_view
from madcell.data.thumbnail import write_thumbnail
from madcell.data.truth import write_truth
from madcell.errors import InputError
from madcell.io.base import SlideData
from madcell.utils.atomic import atomic_path
from madcell.utils.progress import Progress
from madcell.views import geometry, table
from madcell.views.coverage import check_geometry
from madcell.views.registration import check_registration
from madcell.views.extract import SlideJob, ViewParams, extract_unit, unit_geometry
from madcell.views.lazy import GeometryWriter, micro_pixels, write_micro_level, write_slide
from madcell.views.normalize import compute_norm
from madcell.views.resize import torch_threads
from madcell.views.thumbnail import slide_thumbnail
from madcell.views.validate import check_config, select_channels, validate_slide

_STATE: dict = {}


def _drop_handles(obj, depth: int = 0) -> None:
    """In a forked worker, make reader sources forget file handles opened by the parent.

    A forked child shares the parent's open file descriptions (and their offsets), so two workers
    seeking in one inherited handle would read each other's bytes. Reader sources drop their handles
    when pickled (``__getstate__``); applying that state in place makes each worker reopen its own.
    """
    d = getattr(obj, "__dict__", None)
    if d is None or depth > 3 or isinstance(obj, (np.ndarray, Path)):
        return
    if type(obj).__getstate__ is not object.__getstate__:
        state = obj.__getstate__()
        if isinstance(state, dict):
            d.update(state)
    for value in list(d.values()):
        _drop_handles(value, depth + 1)


def _init_worker(jobs: list[SlideJob], vp: ViewParams, compression: str | None, forked: bool = False,
                 worker: bool = True) -> None:
    """Set up a pool worker (one torch thread each) or, with ``worker=False``, the calling process,
    whose thread count is left alone (the in-process path scopes it with :func:`torch_threads`)."""
    import torch

    if worker:
        torch.set_num_threads(1)
    if forked:
        for job in jobs:
            _drop_handles(job.slide.image)
            _drop_handles(job.slide.labels)
    _STATE.update(jobs=jobs, vp=vp, compression=compression)


def _run_unit(unit: geometry.Unit):
    """One unit -> ("ok", encoded views + metadata) or ("error", path, problem) (InputError does
    not survive pickling, so it travels as a tuple)."""
    vp = _STATE["vp"]
    try:
        res = (unit_geometry if vp.lazy else extract_unit)(_STATE["jobs"][unit.slide], unit, vp)
    except InputError as exc:
        return ("error", exc.path, exc.problem)
    if vp.lazy:
        return ("ok", res)
    comp = _STATE["compression"]
    for name in ("morph", "micro"):
        res[name] = [encode_view(v, comp) for v in res.pop(name)]
    return ("ok", res)


def _results(units: list[geometry.Unit], jobs, vp, compression, workers: int):
    """Unit results in unit order; at most ``2 * workers`` units in flight."""
    if workers <= 1:
        _init_worker(jobs, vp, compression, worker=False)
        with torch_threads(1):
            for u in units:
                yield _run_unit(u)
        return
    method = "fork" if "fork" in mp.get_all_start_methods() else "spawn"
    # not multiprocessing.Pool: after an error in a worker, its terminate() (its context manager's exit)
    # hung now and then, joining its task-handler thread, which waited for the input queue's lock (in CI,
    # and 1 in ~15-110 runs here). The executor shuts down cleanly and notices workers that die.
    pool = ProcessPoolExecutor(workers, mp_context=mp.get_context(method), initializer=_init_worker,
                               initargs=(jobs, vp, compression, method == "fork"))
    pending: deque = deque()
    try:
        it = iter(units)
        for u in it:
            pending.append(pool.submit(_run_unit, u))
            if len(pending) >= 2 * workers:
                break
        while pending:
            res = pending.popleft().result()
            nxt = next(it, None)
            if nxt is not None:
                pending.append(pool.submit(_run_unit, nxt))
            yield res
    finally:  # also on an error while writing: queued units are dropped, running ones (<= workers) finish
        pool.shutdown(wait=True, cancel_futures=True)


def _sharded_results(units, jobs, vp, compression, workers: int, rank, spool: Path):
    """Under torchrun: every rank makes the units ``rank::world`` and spools them to ``spool``; rank 0
    then yields all of them in unit order (the same bytes a single process writes), the others nothing."""
    from madcell.train import distributed as D

    if rank.is_main:
        shutil.rmtree(spool, ignore_errors=True)  # a killed run's leftovers
        spool.mkdir(parents=True)
    D.barrier(rank)
    mine = list(range(rank.rank, len(units), rank.world))
    for i, res in zip(mine, _results([units[i] for i in mine], jobs, vp, compression, workers)):
        with atomic_path(spool / f"unit{i:07d}.pkl") as tmp, open(tmp, "wb") as fh:
            pickle.dump(res, fh, protocol=pickle.HIGHEST_PROTOCOL)
    D.barrier(rank)  # every unit spooled
    if rank.is_main:
        for i in range(len(units)):
            with open(spool / f"unit{i:07d}.pkl", "rb") as fh:
                yield pickle.load(fh)


def prepare_slides(slides: Sequence[SlideData], out: str | Path, cfg: dict, workers: int = 1,
                   progress: bool = True) -> Path:
    """Write the views of every cell of ``slides`` into the store ``out``; returns its path.

    ``cfg`` is the ``prepare`` config section (keys left out take their defaults). Under ``torchrun``
    the work units are shared among the ranks (each also uses ``workers`` processes) and rank 0 writes
    the one store, identical to a single process's; the other ranks return once it exists.
    """
    from madcell.train import distributed as D

    rank = D.init_distributed("ddp", "cpu")
    if not rank.enabled:
        return _prepare(slides, out, cfg, workers, progress, None)
    spool = Path(str(out) + ".parts")
    try:
        if rank.is_main:
            _prepare(slides, out, cfg, workers, progress, (rank, spool))
        else:
            _prepare(slides, out, cfg, workers, False, (rank, spool))
        D.barrier(rank)  # the store is written before any rank returns
    finally:
        if rank.is_main:
            shutil.rmtree(spool, ignore_errors=True)
    return Path(out)


def _prepare(slides, out, cfg, workers, progress, shard) -> Path:
    cfg = merge(default_config()["prepare"], cfg or {}, "prepare config")
    check_config(cfg)
    out = Path(out)
    slides = list(slides)
    if not slides:
        raise InputError(None, "no slides to prepare")
    names, chan_idx = select_channels(slides, cfg["channels"])
    for s in slides:
        validate_slide(s, cfg)
    checked = [check_geometry(s, cfg) for s in slides]  # one pass over each mask, before any view is cut
    slides, geometry_reports = [c[0] for c in checked], [c[1] for c in checked]
    for k, s in enumerate(slides):  # does the segmentation sit on the image? (a wrong origin moves both)
        geometry_reports[k].update(check_registration(s, chan_idx[k], cfg))
    lazy = cfg["views"] == "lazy"
    vp = ViewParams(int(cfg["morph_size"]), int(cfg["micro_size"]), float(cfg["morph_margin"]), cfg["dtype"],
                    cfg["micro_scale"] == "per_slide", lazy)
    out_bytes = 1 if cfg["dtype"] == "uint8" else 2
    per_cell_bytes = len(names) * out_bytes * (vp.morph_size ** 2 + vp.micro_size ** 2)
    max_cells = max(1, geometry.OUTPUT_BUDGET_BYTES // per_cell_bytes)

    slide_ids = table.unique_slide_ids(slides)
    cell_ids = table.unique_cell_ids(slides, slide_ids)
    kinds = table.obs_kinds(slides)
    jobs, units, orders, meta = [], [], [], {}
    for k, s in enumerate(slides):
        _, H, W = s.image.shape
        xy = s.cells[["x_px", "y_px"]].to_numpy(np.float64)
        labels = s.cells["label"].to_numpy().astype(np.int64)
        sides = geometry.micro_sides(xy, int(cfg["k_neighbors"]), cfg["micro_scale"], (H, W), workers,
                                     quantum=geometry.lattice_quantum(vp.micro_size))
        tile = int(cfg["tile_size"])
        if vp.per_slide and not lazy:  # the unit window is upsampled as a whole: keep that within budget
            tile = geometry.unit_tile_side(tile, int(sides[0]), vp.micro_size, len(names), out_bytes)
        norm = compute_norm(s, chan_idx[k], cfg)
        jobs.append(SlideJob(s, chan_idx[k], norm, xy, labels, sides, np.sort(labels)))
        su = geometry.plan_units(k, xy, (H, W), tile, max_cells)
        units += su
        orders.append(np.concatenate([u.cells for u in su]))
        meta[slide_ids[k]] = {
            "source": str(s.source), "pixel_size_um": s.pixel_size_um, "shape": [int(v) for v in s.image.shape],
            "n_cells": int(s.n_cells), "channels": norm.to_json(names), "flatfield_grid_factor": norm.factor
            if norm.background is not None else None, "tile_size": tile,
            "micro_side_px": {"median": int(np.median(sides)), "min": int(sides.min()), "max": int(sides.max())},
            "geometry": geometry_reports[k],
            "reader": reader_record(s),
        }
    expression = table.merged_expression(slides, cell_ids, orders)
    truth = table.merged_truth(slides, orders)
    params = dict(cfg, workers=None, view_order="slide, then tile row-major (quadrants when split), then table order",
                  micro_rule="side = sqrt(pi) * d_K (median over the slide for per_slide)",
                  resize="torch bilinear, antialiased when shrinking; mask nearest-exact",
                  normalisation="per slide and channel: (x - lo) / (hi - lo) clipped to 0-1, lo/hi in attrs slides")
    n_total = sum(s.n_cells for s in slides)
    obs_cols = {table.store_name(c): kind for c, kind in kinds.items()}
    compression = None if cfg["compression"] in (None, "none") else cfg["compression"]

    if shard is not None and not shard[0].is_main:  # make and spool this rank's units; rank 0 writes the store
        for _ in _sharded_results(units, jobs, vp, compression, workers, *shard):
            pass
        return out
    with create_store(out, n_total, names, vp.morph_size, vp.micro_size, cfg["dtype"], obs_cols, params, meta,
                      compression, views=cfg["views"]) as writer:
        geo = GeometryWriter(writer.h5, n_total, cfg["micro_scale"], vp.micro_size) if lazy else None
        slide_obs = [table.obs_values(s.cells, kinds) for s in slides]
        start = 0
        results = _results(units, jobs, vp, compression, workers) if shard is None else \
            _sharded_results(units, jobs, vp, compression, workers, *shard)
        try:
            with Progress("prepare", n_total, enabled=progress) as bar:
                for unit in units:
                    _write_unit(writer, geo, start, unit, next(results), jobs, slides, slide_ids, cell_ids, slide_obs)
                    start += len(unit.cells)
                    bar.advance(len(unit.cells))
        finally:
            results.close()  # on an error: stops the worker pool (queued units dropped, running ones finish)
        # the normalised slides, once, tile by tile (lazy: the part the views read; its thumbnail comes from
        # the pyramid), or one streaming pass per slide for its thumbnail (materialised)
        boxes = [geo.slide_box(k, s.image.shape[1:]) if lazy else (0, s.image.shape[1], 0, s.image.shape[2])
                 for k, s in enumerate(slides)]
        with Progress("slide" if lazy else "thumbnails", sum((b[1] - b[0]) * (b[3] - b[2]) for b in boxes),
                      unit="pixels", enabled=progress) as bar:
            for k, job in enumerate(jobs):
                if lazy:
                    meta[slide_ids[k]]["levels"] = write_slide(
                        geo.slides.create_group(str(k)), job.slide, job.channels, job.norm,
                        _lazy_compression(cfg), int(cfg["tile_size"]), bar.advance, boxes[k])
                    meta[slide_ids[k]]["stored_px"] = [int(v) for v in boxes[k]]  # y0, y1, x0, x1 of the slide
                else:
                    thumb = slide_thumbnail(job.slide, job.channels, names, job.norm, int(cfg["tile_size"]),
                                            bar.advance)
                    write_thumbnail(writer.h5, k, slide_ids[k], thumb.image(), thumb.scale, thumb.colours)
        if lazy and vp.per_slide and cfg["lazy_micro_level"]:
            _micro_levels(geo, jobs, vp, cfg, progress)
        if lazy:
            writer.h5.attrs["slides"] = json.dumps(meta, default=str)
        if expression is not None:
            writer.set_expression(expression)
        if truth is not None:
            write_truth(writer.h5, truth)
    return out


def _micro_levels(geo, jobs, vp: ViewParams, cfg: dict, progress: bool) -> None:
    """Each slide's level 0 resized onto its microenvironment lattice (``lazy/micro/<k>``)."""
    group, M = geo.g.create_group("micro"), vp.micro_size
    sides = [int(job.sides[0]) for job in jobs]
    extents = [geo.micro_extent(k, job.slide.image.shape[1:]) for k, job in enumerate(jobs)]
    total = sum(micro_pixels(e, S, M) for e, S in zip(extents, sides))
    with Progress("micro level", total, unit="pixels", enabled=progress) as bar:
        for k, S in enumerate(sides):
            write_micro_level(group, k, geo.slides[str(k)]["0"], S, M, _lazy_compression(cfg), progress=bar.advance,
                              extent=extents[k])


def _lazy_compression(cfg: dict) -> str | None:
    return None if cfg["lazy_compression"] in (None, "none") else "lzf"


def _write_unit(writer, geo, start, unit, res, jobs, slides, slide_ids, cell_ids, slide_obs) -> None:
    """Write one unit's result at rows ``start:start + len(unit.cells)``."""
    if res[0] == "error":
        raise InputError(res[1], res[2])
    res = res[1]
    s, idx = slides[unit.slide], unit.cells
    xy = jobs[unit.slide].xy[idx]
    if {"x_um", "y_um"} <= set(s.cells.columns):
        um = s.cells[["x_um", "y_um"]].to_numpy(np.float64)[idx]
    else:
        um = xy * (np.nan if s.pixel_size_um is None else float(s.pixel_size_um))
    writer.write(start, None, None, cell_ids[unit.slide][idx], [slide_ids[unit.slide]] * len(idx), xy, um,
                 res["morph_um_per_px"], res["micro_um_per_px"], res["edge"],
                 {table.store_name(c): v[idx] for c, v in slide_obs[unit.slide].items()})
    if geo is not None:
        geo.write(start, unit.slide, res)
        return
    writer.write_chunks("morphology", start, res["morph"])
    writer.write_chunks("neighborhood", start, res["micro"])


READER_KEYS = ("input", "format", "image", "segmentation", "coordinate_system", "level", "origin_um")


def reader_record(slide) -> dict:
    """What the reader said about a slide, JSON-safe (numpy scalars and tuples made plain)."""
    keep = {k: slide.meta[k] for k in READER_KEYS if k in slide.meta}
    return json.loads(json.dumps(keep, default=lambda v: v.item() if hasattr(v, "item") else str(v)))


def prepare(input: str | Path, out: str | Path, format: str = "auto", config: str | Path | None = None,
            overrides: dict | Sequence[str] | None = None, workers: int | None = None, progress: bool = True,
            reader_options: dict | None = None, labels: str | Path | None = None) -> Path:
    """Read ``input`` with :func:`madcell.io.read_input` (``reader_options``: e.g. ``pixel_size_um``,
    ``origin_um``, ``transform``, ``z``; see :mod:`madcell.io`) and prepare its slides into ``out``.
    ``labels``: a CSV/TSV/parquet with ``cell_id`` and label columns, joined onto the cells
    (:mod:`madcell.io.annotations`)."""
    from madcell.io import read_input
    from madcell.io.annotations import attach_annotations, read_annotations
    from madcell.io.spatialdata import is_spatialdata

    cfg = load_config(config, overrides)["prepare"]
    check_config(cfg)
    annotations = read_annotations(labels) if labels is not None else None  # bad file: fail before any work
    reader_options = dict(reader_options or {})
    if format == "spatialdata" or (format == "auto" and is_spatialdata(Path(input))):
        reader_options.setdefault("min_cell_px", cfg["morph_size"])  # pyramid level that still fills a view
    slides = read_input(input, format=format, options=reader_options)
    for s in slides:  # recorded in the store so that `madcell export` can read the slide again
        s.meta["input"] = {"path": str(Path(input).resolve()), "format": format, "options": reader_options}
    if annotations is not None:
        slides, _ = attach_annotations(slides, annotations, labels)
    return prepare_slides(slides, out, cfg, workers=int(workers or cfg["workers"]), progress=progress)
