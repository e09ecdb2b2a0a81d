"""Per-cell table columns of a multi-slide store: slide ids, cell ids, label columns, expression.

* Slide ids are made unique by appending ``-2``, ``-3``, ... to repeats.
* Cell ids stay as the readers gave them when they are unique over all slides; if any id occurs
  in two slides, every id becomes ``"<slide_id>:<cell_id>"`` (all slides, so names stay uniform).
* Label columns are the union over slides. A column is stored as strings if it is text (or
  categorical) in any slide, else as its numeric type; a numeric column some slide lacks becomes
  float64 with NaN there, a text column gets "".
* Expression is attached only when every slide has it, restricted to the genes all slides share;
  ground-truth features (:mod:`madcell.io.truth`) likewise, restricted to the shared columns.
"""

from __future__ import annotations

import warnings
from typing import Sequence

import numpy as np
import pandas as pd

from madcell.io.base import SlideData


def unique_slide_ids(slides: Sequence[SlideData]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for s in slides:
        base = str(s.slide_id)
        seen[base] = seen.get(base, 0) + 1
        out.append(base if seen[base] == 1 else f"{base}-{seen[base]}")
    return out


def unique_cell_ids(slides: Sequence[SlideData], slide_ids: Sequence[str]) -> list[np.ndarray]:
    ids = [s.cells["cell_id"].astype(str).to_numpy() for s in slides]
    if len(slides) > 1:
        allids = np.concatenate(ids)
        if len(np.unique(allids)) < len(allids):
            ids = [np.char.add(f"{sid}:", i.astype(str)).astype(object) for sid, i in zip(slide_ids, ids)]
    return [np.asarray(i, dtype=object) for i in ids]


def _is_text(col: pd.Series) -> bool:
    return not (pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col))


def obs_kinds(slides: Sequence[SlideData]) -> dict[str, str]:
    """Label column -> "str" or a numpy dtype name (rules: module docstring)."""
    kinds: dict[str, str] = {}
    for col in dict.fromkeys(c for s in slides for c in s.label_columns):
        present = [s.cells[col] for s in slides if col in s.cells.columns]
        if any(_is_text(c) for c in present):
            kinds[col] = "str"
        elif len(present) < len(slides):
            kinds[col] = "float64"
        else:
            kinds[col] = np.result_type(*[c.to_numpy().dtype for c in present]).name
    return kinds


def obs_values(cells: pd.DataFrame, kinds: dict[str, str]) -> dict[str, np.ndarray]:
    """The slide's label columns as arrays ready for the store (table order)."""
    out = {}
    for col, kind in kinds.items():
        if col not in cells.columns:
            out[col] = np.full(len(cells), "", dtype=object) if kind == "str" else np.full(len(cells), np.nan)
        elif kind == "str":
            v = cells[col]
            out[col] = np.where(v.isna().to_numpy(), "", v.astype(str).to_numpy()).astype(object)
        else:
            out[col] = cells[col].to_numpy().astype(kind)
    return out


def store_name(col: str) -> str:
    """HDF5 dataset name of a label column ('/' would open a sub-group)."""
    return col.replace("/", "_")


def merged_expression(slides: Sequence[SlideData], ids: Sequence[np.ndarray], orders: Sequence[np.ndarray]):
    """One AnnData in store order (slide after slide, ``orders`` = table rows) or None."""
    have = [s.expression is not None for s in slides]
    if not any(have):
        return None
    if not all(have):
        warnings.warn("expression is attached only when every slide has it; "
                      f"{have.count(False)} of {len(slides)} slides have none, so the store gets no expression")
        return None
    import anndata as ad

    parts = []
    for s, cid, order in zip(slides, ids, orders):
        e = s.expression
        pos = pd.Index(np.asarray(e.obs_names).astype(str)).get_indexer(s.cells["cell_id"].astype(str))[order]
        part = ad.AnnData(X=e.X[pos], var=e.var.copy())
        part.obs_names = pd.Index(np.asarray(cid)[order].astype(str))
        parts.append(part)
    if len(parts) == 1:
        return parts[0]
    genes = set(parts[0].var_names).intersection(*[set(p.var_names) for p in parts[1:]])
    dropped = sum(p.n_vars for p in parts) - len(genes) * len(parts)
    if dropped:
        warnings.warn(f"expression keeps the {len(genes)} genes shared by all slides")
    return ad.concat(parts, join="inner", merge="same")


def merged_truth(slides: Sequence[SlideData], orders: Sequence[np.ndarray]) -> pd.DataFrame | None:
    """Ground-truth features in store order (slide after slide, ``orders`` = table rows) or None."""
    if not slides or any(s.truth is None for s in slides):
        return None
    cols = [c for c in slides[0].truth.columns if all(c in s.truth.columns for s in slides[1:])]
    parts = [s.truth.iloc[order][cols] for s, order in zip(slides, orders)]
    return pd.concat(parts, ignore_index=True) if cols else None
