"""Ground-truth feature matrices in the view store: ``truth/<group>`` (N, d) float32, rows in store
order, column names in the dataset's ``columns`` attribute (JSON).

They come from a folder's ``truth.parquet`` (:mod:`madcell.io.truth`; columns ``<group>.<feature>``,
e.g. the synthetic generator's ``morph.*`` and ``context.*``) and go on into the embedding AnnData as
``obsm['truth_<group>']``. They are features, kept out of ``obs/`` so they never become label columns.
"""

from __future__ import annotations

import json

import h5py
import numpy as np
import pandas as pd

GROUP = "truth"


def split_groups(df: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """``<group>.<feature>`` columns -> ``{group: frame with the feature names as columns}``."""
    out: dict[str, list[str]] = {}
    for col in df.columns:
        out.setdefault(str(col).split(".", 1)[0], []).append(col)
    return {g: df[cols].set_axis([str(c).split(".", 1)[1] for c in cols], axis=1) for g, cols in out.items()}


def write_truth(h5: h5py.File, df: pd.DataFrame) -> None:
    """Write every group of ``df`` (rows in store order) under ``truth/``."""
    grp = h5.require_group(GROUP)
    for name, part in split_groups(df).items():
        ds = grp.create_dataset(name, data=part.to_numpy(np.float32))
        ds.attrs["columns"] = json.dumps(list(part.columns))


def truth_groups(h5: h5py.File) -> list[str]:
    return sorted(h5[GROUP].keys()) if GROUP in h5 else []


def read_truth(h5: h5py.File) -> dict[str, pd.DataFrame]:
    """``{group: (N, d) frame}`` of a store (empty when it has no ground truth)."""
    out = {}
    for name in truth_groups(h5):
        ds = h5[GROUP][name]
        out[name] = pd.DataFrame(ds[:], columns=json.loads(ds.attrs["columns"]))
    return out
