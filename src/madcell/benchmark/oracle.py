"""Oracle rows: the ground truth itself as an embedding, the ceiling each label can reach.

A synthetic tissue knows every cell's drawn morphology parameters and the type composition of its
neighbourhood (:mod:`madcell.synthetic.truth`, stored as ``truth/<group>`` in the view store). An
oracle method writes them, each column standardised over all cells (label-free), as the embedding:

* ``morph``   — a perfect morphology encoder (size, shape, nucleus, texture, markers, mitosis mode);
* ``context`` — a perfect reader of the neighbourhood (type counts of the K nearest cells);
* ``both``    — the two side by side.

Scored by the same ``evaluate_anndata`` call as every method, they show how much of each label is
decidable from each source at all: e.g. the context-only subtypes (TAM vs stromal macrophage) must
be near chance for ``oracle_morph`` and high for ``oracle_context``. Real data has no truth, so an
oracle method fails there with an error naming the store.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from madcell.data.source import ViewSource, open_views
from madcell.embed.anndata_form import embedding_to_anndata, write_h5ad
from madcell.errors import InputError

FEATURES = {"morph": ("morph",), "context": ("context",), "both": ("morph", "context")}


def standardise(x: np.ndarray) -> np.ndarray:
    """Columns to zero mean, unit variance; constant columns are dropped (they carry nothing)."""
    x = np.asarray(x, dtype=np.float64)
    sd = x.std(axis=0)
    keep = sd > 1e-12
    return ((x[:, keep] - x[:, keep].mean(axis=0)) / sd[keep]).astype(np.float32)


def oracle_matrix(store: ViewSource, features: str) -> tuple[np.ndarray, list[str]]:
    """(N, d) standardised truth features of ``features`` (morph | context | both) and their names."""
    if features not in FEATURES:
        raise InputError(store.path, f"oracle features must be one of {', '.join(FEATURES)} (got {features!r})")
    truth = store.truth()
    missing = [g for g in FEATURES[features] if g not in truth]
    if missing:
        raise InputError(store.path, f"has no ground truth truth/{', '.join(missing)} (only synthetic tissues carry "
                                     "one; re-prepare a tissue written by this madcell version)")
    parts, names = [], []
    for g in FEATURES[features]:
        df = truth[g]
        keep = df.to_numpy().std(axis=0) > 1e-12
        parts.append(standardise(df.to_numpy()))
        names += [f"{g}.{c}" for c, k in zip(df.columns, keep) if k]
    return np.concatenate(parts, axis=1), names


def write_oracle(store_path: str | Path, out: str | Path, name: str, features: str) -> None:
    """Write the oracle embedding AnnData (``obsm['X_<name>']``) of a store."""
    store = open_views(store_path)
    X, names = oracle_matrix(store, features)
    key = f"X_{name}"
    adata = embedding_to_anndata(store, {key: X}, key, name, {"oracle": features, "oracle_columns": names})
    write_h5ad(adata, out)
