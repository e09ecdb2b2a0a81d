"""Embedding geometry with scanpy: UMAP and graph clustering of any ``obsm`` embedding.

The UMAP recipe is fixed (PCA to 50 dims -> cosine kNN graph with 30 neighbours -> UMAP, min_dist
0.1, seed 42) so figures of different methods are comparable. Neighbour graphs are stored under a
per-key name, so several embeddings of one AnnData never overwrite each other's graph.
"""

from __future__ import annotations

import anndata as ad
import numpy as np


def _pca_rep(adata: ad.AnnData, key: str, n_pcs: int = 50, seed: int = 42) -> str:
    from sklearn.decomposition import PCA

    if key not in adata.obsm:
        raise KeyError(f"obsm has no {key!r}")
    X = np.asarray(adata.obsm[key], dtype=np.float32)
    k = min(n_pcs, X.shape[1], X.shape[0] - 1)
    rep = f"X_pca_{key}"
    adata.obsm[rep] = PCA(k, random_state=seed).fit_transform(X).astype(np.float32) if k < X.shape[1] else X
    return rep


def neighbors(adata: ad.AnnData, key: str, n_neighbors: int = 30, metric: str = "cosine", seed: int = 42) -> str:
    """PCA(50) of ``obsm[key]`` -> scanpy neighbours; returns the neighbours key (``nn_<key>``)."""
    import scanpy as sc

    rep = _pca_rep(adata, key, seed=seed)
    nk = f"nn_{key}"
    sc.pp.neighbors(adata, use_rep=rep, n_neighbors=min(n_neighbors, adata.n_obs - 1), metric=metric,
                    random_state=seed, key_added=nk)
    return nk


def umap(adata: ad.AnnData, key: str, n_neighbors: int = 30, min_dist: float = 0.1, seed: int = 42) -> ad.AnnData:
    """Adds ``obsm['X_umap_<key>']`` (2-D) and returns ``adata``."""
    import scanpy as sc

    nk = neighbors(adata, key, n_neighbors, "cosine", seed)
    tmp_key = "X_umap"
    saved = adata.obsm.pop(tmp_key, None)
    sc.tl.umap(adata, min_dist=min_dist, random_state=seed, neighbors_key=nk)
    adata.obsm[f"X_umap_{key}"] = adata.obsm.pop(tmp_key)
    if saved is not None:
        adata.obsm[tmp_key] = saved
    return adata


def _louvain(conn, resolution: float, seed: int):
    """Louvain (igraph's multilevel) on the weighted kNN graph with ``resolution`` honoured (scanpy's
    igraph flavour of ``tl.louvain`` drops it); categories ordered by size, like scanpy's."""
    import random

    import igraph as ig
    import pandas as pd

    coo = conn.tocoo()
    keep = coo.row < coo.col  # undirected: each edge once
    g = ig.Graph(n=conn.shape[0], edges=list(zip(coo.row[keep].tolist(), coo.col[keep].tolist())), directed=False)
    state = random.getstate()
    random.seed(seed)  # igraph draws from Python's random module
    try:
        part = g.community_multilevel(weights=coo.data[keep].tolist(), resolution=float(resolution))
    finally:
        random.setstate(state)
    sizes = pd.Series(part.membership).value_counts()
    rank = {c: str(i) for i, c in enumerate(sizes.index)}
    return pd.Categorical([rank[m] for m in part.membership], categories=[str(i) for i in range(len(sizes))])


def cluster(adata: ad.AnnData, key: str, method: str = "leiden", resolution: float = 1.0, seed: int = 0,
            n_neighbors: int = 30) -> ad.AnnData:
    """Leiden or Louvain (igraph flavour) on the embedding's graph -> ``obs['<method>_<key>']``."""
    import scanpy as sc

    nk = f"nn_{key}"
    if nk not in adata.uns:
        neighbors(adata, key, n_neighbors)
    col = f"{method}_{key}"
    if method == "leiden":
        sc.tl.leiden(adata, resolution=resolution, flavor="igraph", n_iterations=2, directed=False,
                     random_state=seed, neighbors_key=nk, key_added=col)
    elif method == "louvain":
        adata.obs[col] = _louvain(adata.obsp[adata.uns[nk]["connectivities_key"]], resolution, seed)
    else:
        raise ValueError(f"method must be leiden or louvain (got {method!r})")
    return adata


def pseudotime(adata: ad.AnnData, key: str, root) -> ad.AnnData:
    """Diffusion pseudotime (scanpy diffmap + dpt) from a root cell (obs name or integer position)
    or a root group ``(obs_column, value)`` (its cell nearest the group's diffusion-space centroid)
    -> ``obs['dpt_<key>']``."""
    import scanpy as sc

    nk = f"nn_{key}"
    if nk not in adata.uns:
        neighbors(adata, key, 15)
    sc.tl.diffmap(adata, neighbors_key=nk)
    if isinstance(root, tuple):
        col, value = root
        members = np.flatnonzero(adata.obs[col].astype(str).to_numpy() == str(value))
        if len(members) == 0:
            raise ValueError(f"no cell has {col} == {value!r}")
        dm = adata.obsm["X_diffmap"][members, 1:]
        root_idx = int(members[np.argmin(((dm - dm.mean(0)) ** 2).sum(1))])
    elif isinstance(root, str):
        root_idx = int(adata.obs_names.get_loc(root))
    else:
        root_idx = int(root)
    adata.uns["iroot"] = root_idx
    sc.tl.dpt(adata, neighbors_key=nk)
    adata.obs[f"dpt_{key}"] = adata.obs.pop("dpt_pseudotime")
    return adata
