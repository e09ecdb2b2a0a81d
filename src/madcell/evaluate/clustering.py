"""Unsupervised geometry: do clusters of the embedding match the labels?

k-means (k = number of classes) and Leiden (scanpy, igraph flavour) clusters are scored against each
label column by ARI, NMI and purity. All three are functions of the class x cluster contingency table,
so they are computed here from (weighted) contingency tables: one sparse product gives the tables of
all bootstrap resamples at once. ARI and NMI equal scikit-learn's ``adjusted_rand_score`` and
``normalized_mutual_info_score`` (arithmetic normalisation) on the resampled cells.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def contingency(a: np.ndarray, b: np.ndarray, w: np.ndarray | None = None) -> np.ndarray:
    """(B, Ka, Kb) tables of classes ``a`` x clusters ``b`` under per-resample weights w (B, n)."""
    _, ai = np.unique(a, return_inverse=True)
    _, bi = np.unique(b, return_inverse=True)
    ka, kb = ai.max() + 1, bi.max() + 1
    n = len(ai)
    w = np.ones((1, n), dtype=np.float64) if w is None else np.asarray(w, dtype=np.float64)
    onehot = sp.csr_matrix((np.ones(n), (np.arange(n), ai * kb + bi)), shape=(n, ka * kb))
    return np.asarray((onehot.T @ w.T).T).reshape(len(w), ka, kb)


def _comb2(x: np.ndarray) -> np.ndarray:
    return x * (x - 1) / 2.0


def ari_from_contingency(C: np.ndarray) -> np.ndarray:
    C = np.asarray(C, dtype=np.float64)
    n = C.sum(axis=(1, 2))
    index = _comb2(C).sum(axis=(1, 2))
    sa, sb = _comb2(C.sum(axis=2)).sum(axis=1), _comb2(C.sum(axis=1)).sum(axis=1)
    expected = sa * sb / np.maximum(_comb2(n), 1e-12)
    mx = (sa + sb) / 2.0
    den = mx - expected
    return np.where(np.abs(den) > 1e-12, (index - expected) / np.where(np.abs(den) > 1e-12, den, 1.0), 1.0)


def _entropy(p: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return -np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0).sum(axis=1)


def nmi_from_contingency(C: np.ndarray) -> np.ndarray:
    C = np.asarray(C, dtype=np.float64)
    n = C.sum(axis=(1, 2))[:, None, None]
    p = C / n
    pa, pb = p.sum(axis=2), p.sum(axis=1)
    outer = pa[:, :, None] * pb[:, None, :]
    with np.errstate(divide="ignore", invalid="ignore"):
        mi = np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0) / np.where(outer > 0, outer, 1.0)), 0.0).sum(axis=(1, 2))
    ha, hb = _entropy(pa), _entropy(pb)
    norm = (ha + hb) / 2.0
    return np.where(norm > 1e-12, np.clip(mi, 0, None) / np.where(norm > 1e-12, norm, 1.0), 1.0)


def purity_from_contingency(C: np.ndarray) -> np.ndarray:
    """Fraction of cells whose cluster's majority class is their own class (C: classes x clusters)."""
    C = np.asarray(C, dtype=np.float64)
    return C.max(axis=1).sum(axis=1) / C.sum(axis=(1, 2))


def purity(classes: np.ndarray, clusters: np.ndarray) -> float:
    return float(purity_from_contingency(contingency(classes, clusters))[0])


def kmeans_labels(X: np.ndarray, k: int, seed: int = 0) -> np.ndarray:
    from sklearn.cluster import KMeans

    return KMeans(n_clusters=int(k), n_init=4, random_state=seed).fit_predict(np.asarray(X, dtype=np.float64))


def leiden_labels(X: np.ndarray, resolution: float = 1.0, seed: int = 0, n_neighbors: int = 15,
                  method: str = "umap") -> np.ndarray:
    """scanpy neighbours graph on ``X`` -> Leiden (igraph flavour, 2 iterations, undirected)."""
    import anndata as ad
    import scanpy as sc

    tmp = ad.AnnData(obs={"i": np.arange(len(X))}, obsm={"X_rep": np.asarray(X, dtype=np.float32)})
    sc.pp.neighbors(tmp, use_rep="X_rep", n_neighbors=min(n_neighbors, len(X) - 1),
                    method=method, random_state=seed)
    sc.tl.leiden(tmp, resolution=resolution, flavor="igraph", n_iterations=2, directed=False, random_state=seed)
    return tmp.obs["leiden"].astype(int).to_numpy()


def clustering_scores(classes: np.ndarray, clusters: np.ndarray, w: np.ndarray) -> dict[str, np.ndarray]:
    """ARI, NMI and purity under every resample weight row: {name: (B,)}."""
    C = contingency(classes, clusters, w)
    return {"ari": ari_from_contingency(C), "nmi": nmi_from_contingency(C), "purity": purity_from_contingency(C)}
