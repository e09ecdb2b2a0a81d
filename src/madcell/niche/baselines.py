"""Unsupervised baselines on the very same image features the student sees.

* ``kmeans``  — k-means on the (standardised, PCA-reduced) cell embeddings;
* ``gmm``     — Gaussian mixture on the same;
* ``nbr_gmm`` — Gaussian mixture on neighbour-averaged embeddings (mean over the cell and its graph
  neighbours), the classic image-only niche recipe.

Each is fitted on the training region and applied to every cell, like the teacher and student, so
all methods are compared on the same held-out cells. PCA (``pca_dims``) keeps full-covariance
mixtures well conditioned on 100s-dimensional embeddings.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.mixture import GaussianMixture
from sklearn.preprocessing import StandardScaler

from madcell.niche.composition import row_normalise


def _reduce(feats: np.ndarray, train: np.ndarray, dims: int, seed: int) -> np.ndarray:
    x = StandardScaler().fit(feats[train]).transform(feats)
    d = int(min(dims, x.shape[1], train.sum() - 1))
    if d < x.shape[1]:
        x = PCA(d, random_state=seed).fit(x[train]).transform(x)
    return x


def neighbour_mean(feats: np.ndarray, graph: sp.spmatrix) -> np.ndarray:
    """Mean of each cell's own and its neighbours' features."""
    g = sp.csr_matrix(graph, dtype=np.float64) + sp.identity(graph.shape[0], format="csr")
    return np.asarray(row_normalise(g) @ feats)


def cluster_baselines(
    feats: np.ndarray, graph: sp.spmatrix, train: np.ndarray, k: int, seed: int = 0, pca_dims: int = 30
) -> dict[str, tuple[np.ndarray, np.ndarray | None]]:
    """{name: (labels (N,), probabilities (N, K) or None)} for kmeans, gmm, nbr_gmm."""
    feats = np.asarray(feats, dtype=np.float64)
    train = np.asarray(train, dtype=bool)
    out: dict[str, tuple[np.ndarray, np.ndarray | None]] = {}
    x = _reduce(feats, train, pca_dims, seed)
    km = KMeans(k, n_init=3, random_state=seed).fit(x[train])
    out["kmeans"] = (km.predict(x), None)
    gm = GaussianMixture(k, covariance_type="full", reg_covar=1e-3, random_state=seed).fit(x[train])
    out["gmm"] = (gm.predict(x), gm.predict_proba(x))
    xn = _reduce(neighbour_mean(feats, graph), train, pca_dims, seed)
    gn = GaussianMixture(k, covariance_type="full", reg_covar=1e-3, random_state=seed).fit(xn[train])
    out["nbr_gmm"] = (gn.predict(xn), gn.predict_proba(xn))
    return out
