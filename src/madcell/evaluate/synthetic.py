"""A small embedding AnnData with planted structure, for smoke tests, docs and report previews.

Cell types are Gaussian clusters of the morph part (imbalanced 50/25/15/10 %), the micro part is a
noisy copy of the morph part (so cross-view retrieval is possible but imperfect), gene counts
are Poisson with a log-rate that is a nonlinear function of the morph part, and cells sit on a
uniform 1 mm square per slide. It has the exact form ``madcell embed`` writes.
"""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd


def make_embedding_anndata(n: int = 600, dim: int = 16, n_genes: int = 12, n_types: int = 4, n_slides: int = 1,
                           signal: float = 3.0, method: str = "planted", key: str = "X_planted", seed: int = 0) -> ad.AnnData:
    rng = np.random.default_rng(seed)
    p = np.array([0.5, 0.25, 0.15, 0.1] + [0.05] * max(0, n_types - 4))[:n_types]
    t = rng.choice(n_types, size=n, p=p / p.sum())
    morph = rng.normal(size=(n_types, dim))[t] * signal + rng.normal(size=(n, dim))
    micro = morph + rng.normal(size=(n, dim)) * 1.5  # same space, noisy: retrieval possible, imperfect
    load = rng.normal(size=(dim, n_genes)) / np.sqrt(dim)
    rate = np.exp(np.tanh(morph @ load) * 1.5 + 1.0)
    counts = rng.poisson(rate).astype(np.float32)
    obs = pd.DataFrame({
        "cell_type": pd.Categorical([f"type_{i}" for i in t]),
        "slide": pd.Categorical([f"slide{i % n_slides}" for i in range(n)]),
        "micro_um_per_px": np.full(n, 0.5, np.float32),
    }, index=[f"cell{i}" for i in range(n)])
    adata = ad.AnnData(X=counts, obs=obs, var=pd.DataFrame(index=[f"GENE{i}" for i in range(n_genes)]))
    adata.obsm[key] = np.concatenate([morph, micro], axis=1).astype(np.float32)
    adata.obsm[f"{key}_morph"] = morph.astype(np.float32)
    adata.obsm[f"{key}_micro"] = micro.astype(np.float32)
    adata.obsm["spatial"] = rng.uniform(0, 1000, size=(n, 2))
    adata.uns["madcell"] = {"embedding_key": key, "method": method, "spatial_unit": "um", "micro_size": 224}
    return adata
