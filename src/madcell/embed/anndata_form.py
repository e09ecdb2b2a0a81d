"""The embedding AnnData every encoder writes (MAD, its ablations, every baseline).

``obsm[key]``        the cell embedding used downstream (MAD: ``X_mad`` = [morph CLS | micro CLS])
``obsm[key+'_morph']`` / ``obsm[key+'_micro']``  per-view parts when the encoder has two views
``obsm['truth_<group>']`` ground-truth features when the store has them (synthetic tissues:
                     ``truth_morph``, ``truth_context``; column names in ``uns['madcell']['truth_columns']``)
``obsm['spatial']``  centroid in µm (pixels, with ``uns['madcell']['spatial_unit'] == 'px'``, when
                     the pixel size is unknown)
``uns['spatial']``   per slide: its thumbnail (``images/hires``), ``scalefactors`` and ``metadata`` as
                     ``scanpy.pl.spatial`` reads them, in the units of ``obsm['spatial']``
                     (:mod:`madcell.embed.spatial_uns`; one slide: ``sc.pl.spatial(adata, color=...)``)
``obs``              index = cell id; ``slide``, ``x_px``, ``y_px``, ``edge`` and every label column
``X`` / ``var``      the cell's measured expression (counts) when the store carried it, else empty
``uns['madcell']``   ``{"embedding_key", "method", "store", ...}``
"""

from __future__ import annotations

from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd

from madcell.data.source import ViewSource
from madcell.embed.spatial_uns import spatial_uns


def embedding_to_anndata(
    store: ViewSource,
    embeddings: dict[str, np.ndarray],
    key: str,
    method: str,
    info: dict | None = None,
) -> ad.AnnData:
    """Build the AnnData form. ``embeddings`` maps obsm keys to (N, d) arrays in store order and
    must contain ``key`` (the main embedding)."""
    if key not in embeddings:
        raise ValueError(f"embeddings must contain the main key {key!r}")
    obs = store.obs
    n = len(obs)
    for k, v in embeddings.items():
        if v.shape[0] != n:
            raise ValueError(f"embedding {k!r} has {v.shape[0]} rows for {n} cells")
    obs.index = obs.index.astype(str)
    expr = store.expression()
    if expr is not None:
        expr = expr[obs.index.to_numpy()]  # align by cell id
        adata = ad.AnnData(X=expr.X, obs=obs, var=expr.var.copy())
    else:
        adata = ad.AnnData(obs=obs, X=np.zeros((n, 0), dtype=np.float32))
    for k, v in embeddings.items():
        adata.obsm[k] = np.asarray(v, dtype=np.float32)
    truth = store.truth()
    for g, df in truth.items():
        adata.obsm[f"truth_{g}"] = df.to_numpy(np.float32)
    um = obs[["x_um", "y_um"]].to_numpy() if "x_um" in obs else np.full((n, 2), np.nan)
    unit = "um"
    if np.isnan(um).any():
        um, unit = obs[["x_px", "y_px"]].to_numpy(), "px"
    adata.obsm["spatial"] = um.astype(np.float64)
    adata.uns["spatial"] = spatial_uns(store, obs, adata.obsm["spatial"], unit)
    for col in adata.obs.columns:
        if adata.obs[col].dtype == object:
            adata.obs[col] = pd.Categorical(adata.obs[col])
    adata.uns["madcell"] = {
        "embedding_key": key,
        "method": method,
        "store": str(Path(store.path).resolve()),
        "spatial_unit": unit,
        "channel_names": list(store.channel_names),
        "morph_size": int(store.morph_size),
        "micro_size": int(store.micro_size),
        **({"truth_columns": {g: list(df.columns) for g, df in truth.items()}} if truth else {}),
        **(info or {}),
    }
    return adata


def write_h5ad(adata: ad.AnnData, path: str | Path) -> None:
    """Write atomically (no half-written .h5ad after a kill)."""
    from madcell.utils.atomic import atomic_path

    with atomic_path(path) as tmp:
        adata.write_h5ad(tmp)
