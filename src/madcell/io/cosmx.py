"""NanoString CosMx SMI flat-file reader: one SlideData per FOV (slide ids ``F002``, ``F003``, ...).

Per FOV: ``CellComposite/CellComposite_F###.jpg`` (RGB composite), ``CellLabels/CellLabels_F###.tif``
(label mask, float32 in some exports: cast to int; the value is the CosMx ``cell_ID``). Cells come from
the mask (``cell_id = F###_<cell_ID>``, pixel centroids). Expression is rebuilt from ``*_tx_file.csv``
grouped by (fov, cell_ID, target) with negative/system-control probes kept out of ``X`` (fallback:
``*_exprMat_file.csv``). Text columns of ``*_metadata_file.csv`` (e.g. an exported cell type) become
label columns, joined on (fov, cell_ID).

Coordinates: the transcript ``y`` axis points up while image rows point down, and an image may be a
crop of the FOV. With ``crop_offsets = {fov: [x0, y0]}`` (keys: FOV number or ``F###``) the image shows local x in [x0, x0 + W) and
local y in [y0, y0 + H), and ``col = x_local - x0``, ``row = (y0 + H) - y_local``. An uncropped FOV has
[0, 0]. ``crop_offsets: auto`` (default; also for FOVs not listed) picks, per FOV, the candidate offset (0, the transcripts'
extent, standard FOV sizes minus the image size; each +-1 px) that puts the most assigned
transcripts on their own cell's label; the choice and its hit rate are in ``meta``. The pixel size is
not in the files: ``pixel_size_um`` stays None unless given (0.18 / 0.12028 µm are instrument values,
unverified for a given export); with it, ``x_um = x_global * s`` and ``y_um = -y_global * s``
(``*_global_px = *_local_px + fov offset``; negated so µm y grows with image rows).
"""

from __future__ import annotations

import itertools
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from madcell.errors import InputError
from madcell.io.base import ArrayLabels, SlideData
from madcell.io.cells import cells_from_mask, read_table
from madcell.io.images import open_image, open_labels
from madcell.io.options import check_options
from madcell.io.transcripts import count_matrix, labels_at

OPTIONS = {"crop_offsets", "fovs"}
CONTROL_PROBES = r"^(NegPrb|Negative|SystemControl|FalseCode)"
FOV_SIZES = (5472, 3648, 4256)
TX_COLUMNS = {"fov", "cell_ID", "x_local_px", "y_local_px", "target"}


def _glob1(folder: Path, pattern: str) -> Path | None:
    hits = sorted(folder.glob(pattern))
    return hits[0] if hits else None


def _fov_files(folder: Path, wanted: set[int] | None = None) -> dict[int, tuple[Path, Path]]:
    """FOV -> (composite image, label mask). A FOV with only one of the two is an error naming it
    (dropping it silently would drop its cells)."""
    def fovs(sub: str, stem: str) -> dict[int, Path]:
        found = {}
        for p in sorted((folder / sub).glob(f"{stem}_F*.*")):
            m = re.search(r"_F(\d+)\.[A-Za-z]+$", p.name)
            if m is not None:
                found.setdefault(int(m.group(1)), p)
        return found

    labels, comps = fovs("CellLabels", "CellLabels"), fovs("CellComposite", "CellComposite")
    if wanted is not None:
        labels = {f: p for f, p in labels.items() if f in wanted}
        comps = {f: p for f, p in comps.items() if f in wanted}
    for have, lack, what in ((labels, comps, "CellComposite image"), (comps, labels, "CellLabels mask")):
        orphan = sorted(set(have) - set(lack))
        if orphan:
            raise InputError(folder, f"FOV(s) {', '.join(f'F{f:03d}' for f in orphan)} have no {what}; restore it or "
                                     "leave those FOVs out with --option 'fovs=[...]'")
    return {f: (comps[f], labels[f]) for f in sorted(labels)}


def infer_offsets(mask: np.ndarray, x: np.ndarray, y: np.ndarray, cell: np.ndarray) -> tuple[tuple[int, int], float]:
    """Crop offset (x0, y0) maximising the share of assigned transcripts on their own label."""
    H, W = mask.shape
    src = ArrayLabels(mask)
    xs = {0, int(np.floor(x.min())), int(np.ceil(x.max())) - W} | {s - W for s in FOV_SIZES if s >= W}
    ys = {0, int(np.floor(y.min())), int(np.ceil(y.max())) - H} | {s - H for s in FOV_SIZES if s >= H}
    xs = {v + d for v in xs for d in (-1, 0, 1) if v + d >= 0}
    ys = {v + d for v in ys for d in (-1, 0, 1) if v + d >= 0}
    best, best_rate = (0, 0), -1.0
    for x0, y0 in sorted(itertools.product(xs, ys)):
        rate = float(np.mean(labels_at(src, x - x0, (y0 + H) - y) == cell)) if len(x) else 0.0
        if rate > best_rate + 1e-12:
            best, best_rate = (x0, y0), rate
    return best, best_rate


def _offsets_for(opt, fov: int, slide_id: str, folder: Path) -> tuple[int, int] | None:
    """Explicit (x0, y0) for this FOV, or None to infer it (option 'auto' or FOV not listed)."""
    if opt is None or opt == "auto":
        return None
    if not isinstance(opt, dict):
        raise InputError(folder, "option crop_offsets must be 'auto' or {fov: [x0, y0]}")
    for key in (fov, str(fov), slide_id, f"F{fov:03d}"):
        if key in opt and opt[key] != "auto":
            try:
                return int(opt[key][0]), int(opt[key][1])
            except (TypeError, ValueError, IndexError):
                raise InputError(folder, f"crop_offsets for FOV {fov} must be [x0, y0], got {opt[key]!r}") from None
    return None


def read_cosmx(path: str | Path, options: dict | None = None) -> list[SlideData]:
    folder = Path(path)
    opts = check_options(options, OPTIONS, folder, "cosmx")
    fovs = _fov_files(folder, {int(f) for f in opts["fovs"]} if opts.get("fovs") is not None else None)
    if not fovs:
        raise InputError(folder, "no FOV with both CellLabels/CellLabels_F*.tif and CellComposite/CellComposite_F*")
    tx_path = _glob1(folder, "*_tx_file.csv*")
    tx = read_table(tx_path, usecols=lambda c: c in TX_COLUMNS) if tx_path else None
    if tx is not None:
        if TX_COLUMNS - set(tx.columns):
            raise InputError(tx_path, f"transcript table lacks columns {sorted(TX_COLUMNS - set(tx.columns))}")
        tx_by_fov = dict(tuple(tx.groupby("fov")))
    panel = None
    if tx is not None:
        panel = sorted(g for g in tx["target"].astype(str).unique() if not re.match(CONTROL_PROBES, g))
    pos_path = _glob1(folder, "*_fov_positions_file.csv*")
    positions = read_table(pos_path).rename(columns=str.lower).set_index("fov") if pos_path else None
    expr_path = _glob1(folder, "*_exprMat_file.csv*") if tx is None else None
    expr_all = read_table(expr_path) if expr_path else None
    meta_path = _glob1(folder, "*_metadata_file.csv*")
    meta_labels = None
    if meta_path is not None:  # text columns of the vendor's cell metadata (e.g. an exported cell type) as labels
        from madcell.io.annotations import metadata_labels

        mt = read_table(meta_path)
        if {"fov", "cell_ID"} <= set(mt.columns):
            meta_labels = metadata_labels(mt, [f"F{int(f):03d}_{int(c)}" for f, c in zip(mt["fov"], mt["cell_ID"])],
                                          meta_path)
    size = opts.get("pixel_size_um")
    if size is None:
        n = len(fovs)
        warnings.warn(f"{folder}: no pixel_size_um given (CosMx files do not record it): cell positions stay in "
                      "each FOV's local pixels" + (f", so the {n} FOVs overlap in obsm['spatial'] and a spatial graph "
                      "built over all cells joins cells of different FOVs" if n > 1 else "")
                      + "; give --option pixel_size_um=<µm per px> (e.g. 0.12028 or 0.18, check your instrument) "
                      "to place every FOV in global µm")
    prefix = opts.get("slide_id")
    slides = []
    for fov, (comp_path, lab_path) in sorted(fovs.items()):
        slide_id = f"{prefix}_F{fov:03d}" if prefix else f"F{fov:03d}"
        image, _ = open_image(comp_path, opts.get("channels"))
        labels = open_labels(lab_path)
        if tuple(labels.shape) != tuple(image.shape[1:]):
            raise InputError(lab_path, f"mask shape {tuple(labels.shape)} does not match image shape "
                             f"{tuple(image.shape[1:])} of {comp_path.name}")
        mask = labels.read(0, labels.shape[0], 0, labels.shape[1])  # one FOV (<= ~4k x 4k) fits in memory
        labels = ArrayLabels(mask)
        cells = cells_from_mask(labels, lab_path)
        cells["cell_id"] = [f"F{fov:03d}_{lab}" for lab in cells["label"]]
        H = mask.shape[0]
        meta = {"format": "cosmx", "fov": fov, "image": str(comp_path), "segmentation": str(lab_path)}
        expression, transcripts = None, None
        offsets = _offsets_for(opts.get("crop_offsets", "auto"), fov, slide_id, folder)
        if tx is not None:
            t = tx_by_fov.get(fov, tx.iloc[:0])
            x, y, cid = t["x_local_px"].to_numpy(float), t["y_local_px"].to_numpy(float), t["cell_ID"].to_numpy()
            if offsets is None:
                a = cid != 0
                offsets, rate = infer_offsets(mask, x[a], y[a], cid[a])
                meta["crop_offsets_hit_rate"] = rate
            x_px, y_px = x - offsets[0], (offsets[1] + H) - y
            index = pd.Index(cells["label"]).get_indexer(cid)
            expression = count_matrix(index, t["target"].to_numpy(), list(cells["cell_id"]), exclude=CONTROL_PROBES,
                                      gene_names=panel)
            if opts.get("keep_transcripts"):
                ids = np.where(index >= 0, cells["cell_id"].to_numpy()[index], "")
                transcripts = pd.DataFrame({"x_px": x_px, "y_px": y_px, "gene": t["target"].astype(str).to_numpy(),
                                            "cell_id": ids})
        elif expr_all is not None:
            e = expr_all[expr_all["fov"] == fov].assign(cell_id=lambda d: [f"F{fov:03d}_{c}" for c in d["cell_ID"]])
            genes = [c for c in e.columns if c not in ("fov", "cell_ID", "cell_id") and not re.match(CONTROL_PROBES, c)]
            e = e.set_index("cell_id").reindex(cells["cell_id"]).fillna(0)
            import anndata as ad
            import scipy.sparse as sp

            expression = ad.AnnData(sp.csr_matrix(e[genes].to_numpy(np.float32)),
                                    obs=pd.DataFrame(index=cells["cell_id"].to_numpy()),
                                    var=pd.DataFrame(index=pd.Index(genes, dtype=str)))
        offsets = offsets or (0, 0)
        meta["crop_offsets"] = offsets
        if size is not None:
            gx = gy = 0.0
            if positions is not None and fov in positions.index:
                gx, gy = float(positions.loc[fov, "x_global_px"]), float(positions.loc[fov, "y_global_px"])
            cells["x_um"] = (cells["x_px"] + offsets[0] + gx) * size
            cells["y_um"] = -((offsets[1] + H) - cells["y_px"] + gy) * size
        if meta_labels is not None:
            cells = cells.join(meta_labels, on="cell_id")
        slides.append(SlideData(image=image, labels=labels, cells=cells, pixel_size_um=size, slide_id=slide_id,
                                source=folder, expression=expression, transcripts=transcripts, meta=meta))
    return slides
