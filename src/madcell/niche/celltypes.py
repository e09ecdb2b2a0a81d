"""Cell types for the teacher: a given label column, or derived from expression without peeking.

Derived types follow the scanpy recipe (normalise_total -> log1p -> PCA -> exact kNN graph -> Leiden with
``flavor="igraph"``) fitted on TRAINING cells only. Held-out cells are normalised per cell (no
information shared), centred with the training genes' means, projected on the training PCs and
labelled by a kNN classifier fitted on the training cells' PCA coordinates. So the held-out reference
niches never depend on held-out expression beyond each cell's own profile.
"""

from __future__ import annotations

import warnings

import anndata as ad
import numpy as np
import scanpy as sc
import scipy.sparse as sp
from sklearn.neighbors import KNeighborsClassifier, kneighbors_graph

from madcell.errors import InputError


def _lognorm(x: np.ndarray | sp.spmatrix, target_sum: float) -> ad.AnnData:
    a = ad.AnnData(X=sp.csr_matrix(x, dtype=np.float32) if sp.issparse(x) else np.asarray(x, np.float32))
    with warnings.catch_warnings():  # cells without counts stay all-zero: expected, not a problem
        warnings.filterwarnings("ignore", message="Some cells have zero counts")
        sc.pp.normalize_total(a, target_sum=target_sum)
    sc.pp.log1p(a)
    return a


def derive_cell_types(
    adata: ad.AnnData,
    train: np.ndarray,
    n_pcs: int = 30,
    n_neighbors: int = 15,
    resolution: float = 1.0,
    target_sum: float = 1e4,
    seed: int = 0,
) -> np.ndarray:
    """Leiden cell types (str array, one per cell) fitted on ``train`` cells, transferred to the rest."""
    if adata.n_vars == 0:
        raise InputError(
            "embedding AnnData", "has no expression (X is empty); pass --cell-type-col with a cell-type column"
        )
    train = np.asarray(train, dtype=bool)
    x = adata.X
    a_tr = _lognorm(x[train], target_sum)
    n_comps = int(max(2, min(n_pcs, a_tr.n_obs - 1, a_tr.n_vars - 1)))
    sc.pp.pca(a_tr, n_comps=n_comps, random_state=seed)
    # exact kNN graph (symmetrised) instead of sc.pp.neighbors: same recipe, no numba/UMAP start-up
    knn = kneighbors_graph(a_tr.obsm["X_pca"], min(n_neighbors, a_tr.n_obs - 1), include_self=False)
    adj = knn.maximum(knn.T).tocsr()
    sc.tl.leiden(
        a_tr, resolution=resolution, adjacency=adj, flavor="igraph", n_iterations=2, directed=False, random_state=seed
    )
    labels = np.empty(adata.n_obs, dtype=object)
    labels[train] = a_tr.obs["leiden"].astype(str).to_numpy()
    if (~train).any():
        a_te = _lognorm(x[~train], target_sum)
        xt = a_te.X.toarray() if sp.issparse(a_te.X) else a_te.X
        xtr = a_tr.X.toarray() if sp.issparse(a_tr.X) else a_tr.X
        pcs = a_tr.varm["PCs"]
        z_te = (xt - xtr.mean(axis=0)) @ pcs
        clf = KNeighborsClassifier(n_neighbors=min(n_neighbors, a_tr.n_obs)).fit(a_tr.obsm["X_pca"], labels[train])
        labels[~train] = clf.predict(z_te)
    return np.array([f"ct{int(v)}" for v in labels], dtype=object)


def cell_types_from_column(adata: ad.AnnData, col: str) -> np.ndarray:
    """Given labels as a str array; missing values become their own 'NA' type."""
    if col not in adata.obs:
        raise InputError(
            "embedding AnnData", f"has no obs column {col!r} (columns: {', '.join(map(str, adata.obs.columns))})"
        )
    return adata.obs[col].astype(str).fillna("NA").to_numpy(dtype=object)
