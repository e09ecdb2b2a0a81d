"""Optional ground-truth *features* of a folder (``truth.parquet``/``truth.csv``; the synthetic
generator writes one): ``cell_id`` plus numeric columns named ``<group>.<feature>``
(e.g. ``morph.a_um``, ``context.n_tumour``).

They are kept apart from the cell table on purpose: every extra column of ``cells.parquet`` becomes
a label that ``evaluate`` scores, while these are per-cell feature vectors (used by the benchmark's
oracle methods). ``prepare`` stores them as ``truth/<group>`` matrices (:mod:`madcell.data.truth`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from madcell.errors import InputError
from madcell.io.cells import read_table

TRUTH_NAMES = ("truth.parquet", "truth.csv")


def read_truth(path: str | Path, cell_ids) -> pd.DataFrame:
    """The truth table of ``path`` aligned to ``cell_ids`` (rows in that order, ``cell_id`` dropped)."""
    path = Path(path)
    df = read_table(path)
    if "cell_id" not in df:
        raise InputError(path, "truth table has no 'cell_id' column")
    df = df.assign(cell_id=df["cell_id"].astype(str))
    if not df["cell_id"].is_unique:
        raise InputError(path, "truth table has repeated cell ids")
    feats = [c for c in df.columns if c != "cell_id"]
    bad = [c for c in feats if not pd.api.types.is_numeric_dtype(df[c]) or "." not in c]
    if bad or not feats:
        raise InputError(path, "truth columns must be numeric and named <group>.<feature> "
                               f"(offending: {', '.join(map(str, bad[:5])) or 'no columns'})")
    ids = pd.Index(np.asarray(cell_ids).astype(str))
    pos = pd.Index(df["cell_id"]).get_indexer(ids)
    if (pos < 0).any():
        raise InputError(path, f"{int((pos < 0).sum())} cells have no truth row (e.g. {list(ids[pos < 0][:5])})")
    out = df.iloc[pos][feats].astype(np.float64)
    out.index = pd.RangeIndex(len(out))
    return out
