"""Cell annotations from outside the image: a user's table (``--labels FILE``) and vendor clusterings.

* :func:`read_annotations` — CSV / TSV / parquet with a ``cell_id`` column plus any label columns;
  duplicate ids are an error (which row would win?), ids are compared as strings.
* :func:`attach_annotations` — left-joins them onto each slide's cell table by ``cell_id``; the columns
  then travel like any label column (store ``obs/`` -> AnnData ``obs``). Cells without a row get a
  missing value; rows whose id matches no cell are counted and reported, never silently dropped.
* :func:`xenium_clusters` — Xenium Ranger's ``analysis/clustering/<name>/clusters.csv``
  (``Barcode, Cluster``) as columns ``xenium_<name>`` (``gene_expression_graphclust`` ->
  ``xenium_graphclust``), cluster ids as strings.
"""

from __future__ import annotations

import warnings
from dataclasses import replace
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from madcell.errors import InputError
from madcell.io.cells import read_table

RESERVED = {"cell_id", "label", "x_px", "y_px", "x_um", "y_um", "slide"}


def read_annotations(path: str | Path) -> pd.DataFrame:
    """The annotation table, indexed by ``cell_id`` (str), one column per label."""
    path = Path(path)
    if path.suffix.lower() in (".tsv", ".tab", ".txt"):
        table = read_table(path, sep="\t")
    else:
        table = read_table(path)
    if "cell_id" not in table:
        raise InputError(path, f"has no 'cell_id' column (columns: {', '.join(map(str, table.columns[:10]))})")
    ids = table["cell_id"].map(lambda v: v.decode() if isinstance(v, bytes) else str(v))
    dup = ids[ids.duplicated()]
    if len(dup):
        raise InputError(path, f"{len(dup)} duplicated cell id(s), e.g. {dup.head(3).tolist()}")
    cols = [c for c in table.columns if c != "cell_id"]
    if not cols:
        raise InputError(path, "has a 'cell_id' column but no label column")
    bad = sorted(set(cols) & RESERVED)
    if bad:
        raise InputError(path, f"column(s) {bad} are reserved by madcell's cell table; rename them")
    return table[cols].set_axis(pd.Index(ids, name="cell_id"))


def attach_annotations(slides: Sequence, annotations: pd.DataFrame, source: str | Path) -> tuple[list, dict]:
    """Slides whose cell tables carry the annotation columns, and ``{"matched", "cells", "unknown_ids"}``."""
    ids = pd.Index(pd.concat([s.cells["cell_id"] for s in slides]).astype(str))
    report = _match(annotations, ids, {c for s in slides for c in s.cells.columns}, source, "cell table", "input")
    out = []
    for s in slides:
        part = annotations.reindex(s.cells["cell_id"].astype(str).to_numpy())
        cells = pd.concat([s.cells.reset_index(drop=True), part.reset_index(drop=True)], axis=1)
        out.append(replace(s, cells=cells))
    return out, report


def _match(table: pd.DataFrame, ids: pd.Index, taken, source, columns_of: str, cells_of: str) -> dict:
    """The checks every join of an annotation table makes: no column clash (error), at least one id
    matched (error otherwise), ids matching no cell counted and warned about."""
    clash = sorted(set(table.columns) & set(map(str, taken)))
    if clash:
        raise InputError(source, f"column(s) {clash} already exist in the {columns_of}; rename them in the file")
    matched = int(ids.isin(table.index).sum())
    if matched == 0:
        raise InputError(source, f"none of its {len(table)} cell ids matches a cell of the {cells_of} "
                                 f"(e.g. {table.index[:3].tolist()} vs {ids[:3].tolist()})")
    unknown = int((~table.index.isin(ids)).sum())
    if unknown:
        warnings.warn(f"{source}: {unknown} of {len(table)} annotated cell ids match no cell of the {cells_of}")
    return {"matched": matched, "cells": int(len(ids)), "unknown_ids": unknown}


def xenium_clusters(folder: str | Path) -> pd.DataFrame | None:
    """``analysis/clustering/*/clusters.csv`` of a Xenium outs folder as label columns (None: none there)."""
    found = sorted(Path(folder).glob("analysis/clustering/*/clusters.csv"))
    cols = {}
    for f in found:
        t = read_table(f, dtype=str)
        if not {"Barcode", "Cluster"} <= set(t.columns):
            raise InputError(f, "expected columns 'Barcode' and 'Cluster' (Xenium Ranger clustering)")
        if t["Barcode"].duplicated().any():
            raise InputError(f, "duplicated barcodes")
        name = "xenium_" + f.parent.name.removeprefix("gene_expression_")
        cols[name] = t.set_index("Barcode")["Cluster"]
    return pd.DataFrame(cols) if cols else None


def annotate_anndata(adata, source: str | Path, annotations: pd.DataFrame | None = None) -> dict:
    """Join the label columns of ``source`` (:func:`read_annotations`) onto ``adata.obs`` by cell id
    (``obs_names``), in place: the ``--labels FILE`` of ``embed`` / ``evaluate`` / ``decode`` / ``niche``.
    Columns that already exist in ``obs`` are an error (rename them in the file); cells without a row
    get a missing value; ids that match no cell are counted and warned about. Returns
    ``{"matched", "cells", "unknown_ids", "columns"}``."""
    table = read_annotations(source) if annotations is None else annotations
    ids = pd.Index(adata.obs_names.astype(str))
    report = _match(table, ids, adata.obs.columns, source, "AnnData's obs", "AnnData")
    part = table.reindex(ids)
    for col in table.columns:
        values = part[col]
        # text labels as categories (ids as strings), numbers as numbers; cells without a row stay missing
        adata.obs[col] = (pd.Categorical(values.where(values.isna(), values.astype(str)))
                          if values.dtype == object else values.to_numpy())
    return {**report, "columns": list(table.columns)}


ID_LIKE = {"cell_id", "cell_ID", "cellID", "EntityID", "fov", "FOV", "Barcode", "id", "ID"}


def metadata_labels(table: pd.DataFrame, ids: pd.Series | np.ndarray, source: str | Path,
                    max_classes: int = 500) -> pd.DataFrame | None:
    """Vendor cell metadata (CosMx ``*_metadata_file.csv``, MERSCOPE ``cell_metadata.csv``) as label
    columns, indexed by madcell's cell id (``ids``, one per row of ``table``): the text columns with
    2..``max_classes`` distinct values (e.g. an exported cell type); numbers (areas, intensities,
    coordinates) are not labels. None when there is none."""
    ids = pd.Index(np.asarray(ids).astype(str), name="cell_id")
    if ids.has_duplicates:
        raise InputError(source, f"{int(ids.duplicated().sum())} duplicated cell id(s) in the cell metadata")
    cols = {}
    for c in table.columns:
        if c in ID_LIKE or str(c) in RESERVED or table[c].dtype != object:
            continue
        v = table[c].astype("string")
        if 2 <= v.nunique(dropna=True) <= max_classes:
            cols[str(c)] = v.to_numpy(dtype=object)
    return pd.DataFrame(cols, index=ids) if cols else None
