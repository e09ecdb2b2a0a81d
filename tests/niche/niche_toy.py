"""A toy tissue with a planted niche signal, shared by the niche tests.

Spatial niches are Voronoi regions of random seeds; each niche has its own cell-type mixture; the
image embedding encodes only the cell's own type (a prototype) plus strong noise, and expression
counts are Poisson around type-specific means. Niches are therefore visible to an image model only
through a cell's neighbours — exactly what the student should learn and single-cell clustering
cannot see.
"""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd

MIXTURES = np.array(
    [
        [0.80, 0.10, 0.05, 0.05, 0.00],
        [0.10, 0.80, 0.00, 0.05, 0.05],
        [0.05, 0.05, 0.10, 0.40, 0.40],
        [0.30, 0.00, 0.60, 0.05, 0.05],
    ]
)


def make_toy(n_per_slide: int = 700, n_slides: int = 2, dim: int = 16, noise: float = 1.0, seed: int = 0) -> ad.AnnData:
    rng = np.random.default_rng(seed)
    n_types = MIXTURES.shape[1]
    protos = rng.normal(size=(n_types, dim)) * 1.5
    gene_means = rng.gamma(1.0, 1.0, size=(n_types, 20)) * 3
    xs, slides, niches, types = [], [], [], []
    for s in range(n_slides):
        side = np.sqrt(n_per_slide) * 12.0  # ~12 µm spacing
        xy = rng.uniform(0, side, size=(n_per_slide, 2))
        seeds = rng.uniform(0, side, size=(10, 2))
        region = np.argmin(((xy[:, None] - seeds[None]) ** 2).sum(-1), axis=1)
        niche = np.arange(10) % len(MIXTURES)
        niche = rng.permutation(niche)[region]
        t = np.array([rng.choice(n_types, p=MIXTURES[k]) for k in niche])
        xs.append(xy + s * 10_000)
        slides += [f"s{s}"] * n_per_slide
        niches.append(niche)
        types.append(t)
    xy, niche, t = np.concatenate(xs), np.concatenate(niches), np.concatenate(types)
    emb = protos[t] + noise * rng.normal(size=(len(t), dim))
    counts = rng.poisson(gene_means[t]).astype(np.float32)
    obs = pd.DataFrame(
        {"slide": pd.Categorical(slides), "cell_type": pd.Categorical([f"type{v}" for v in t]),
         "true_niche": pd.Categorical(niche.astype(str))},
        index=[f"c{i}" for i in range(len(t))],
    )
    a = ad.AnnData(X=counts, obs=obs, var=pd.DataFrame(index=[f"g{i}" for i in range(20)]))
    a.obsm["X_toy"] = emb.astype(np.float32)
    a.obsm["spatial"] = xy
    a.uns["madcell"] = {"embedding_key": "X_toy", "method": "toy", "spatial_unit": "um"}
    return a


FAST = {
    "k_niches": 4,
    "max_epochs": 40,
    "patience": 8,
    "bootstrap": 200,
    "d_model": 32,
    "n_layers": 1,
    "device": "cpu",
}
