"""How much of the expression does the embedding share linearly? Canonical correlation analysis.

Both sides are standardised and reduced by PCA (``cca_image_dims`` for the embedding, ``cca_gene_dims``
for the transformed expression; fewer when there are fewer features or training cells), then
scikit-learn's CCA is fit on the training cells. On held-out cells we report the canonical
correlations next to a null where the expression rows are shuffled (pairs broken), and how well cell
types line up in the shared space: for each type, does its embedding-side centroid's nearest
expression-side centroid (cosine) belong to the same type, and the mean cosine of paired vs unpaired
centroids.
"""

from __future__ import annotations

import warnings

import numpy as np

from madcell.evaluate.bootstrap import weighted_pearson


def fit_cca(E_train: np.ndarray, G_train: np.ndarray, image_dims: int, gene_dims: int, n_components: int, seed: int = 0):
    """Fitted (transform_E, transform_G) callables mapping new rows into the canonical space."""
    from sklearn.cross_decomposition import CCA
    from sklearn.decomposition import PCA
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    n = len(E_train)
    de = max(1, min(image_dims, E_train.shape[1], n - 1))
    dg = max(1, min(gene_dims, G_train.shape[1], n - 1))
    pe = make_pipeline(StandardScaler(), PCA(de, random_state=seed)).fit(E_train)
    pg = make_pipeline(StandardScaler(), PCA(dg, random_state=seed)).fit(G_train)
    cca = CCA(n_components=max(1, min(n_components, de, dg)), max_iter=1000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # NIPALS convergence chatter on near-degenerate components
        cca.fit(pe.transform(E_train), pg.transform(G_train))

    def te(E: np.ndarray) -> np.ndarray:
        return cca.transform(pe.transform(E))

    def tg(G: np.ndarray) -> np.ndarray:
        dummy = np.zeros((len(G), de))
        return cca.transform(dummy, pg.transform(G))[1]

    return te, tg


def canonical_corr_fn(U: np.ndarray, V: np.ndarray):
    """metric(w) -> (B, c) weighted correlation of each canonical pair."""
    return lambda w: weighted_pearson(U, V, w)


def centroid_alignment_fn(U: np.ndarray, V: np.ndarray, labels: np.ndarray):
    """metric(w) -> (B, 3): [own-centroid top-1 match rate, mean paired cosine, mean unpaired cosine]."""
    _, codes = np.unique(labels, return_inverse=True)
    K = codes.max() + 1
    onehot = np.eye(K)[codes]
    wu = (onehot[:, :, None] * U[:, None, :]).reshape(len(U), -1)
    wv = (onehot[:, :, None] * V[:, None, :]).reshape(len(V), -1)

    def fn(w: np.ndarray) -> np.ndarray:
        w = np.asarray(w, dtype=np.float64)
        cnt = w @ onehot  # (B, K)
        cu = (w @ wu).reshape(len(w), K, -1)
        cv = (w @ wv).reshape(len(w), K, -1)
        cu /= np.maximum(np.linalg.norm(cu, axis=2, keepdims=True), 1e-12)
        cv /= np.maximum(np.linalg.norm(cv, axis=2, keepdims=True), 1e-12)
        cos = np.einsum("bkd,bjd->bkj", cu, cv)
        present = cnt > 0
        valid = present[:, :, None] & present[:, None, :]
        cos_m = np.where(valid, cos, -np.inf)
        top1 = np.where(present, cos_m.argmax(axis=2) == np.arange(K)[None], np.nan)
        eye = np.eye(K, dtype=bool)[None]
        paired = np.where(valid & eye, cos, np.nan)
        unpaired = np.where(valid & ~eye, cos, np.nan)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            return np.stack([np.nanmean(top1, 1), np.nanmean(paired, (1, 2)), np.nanmean(unpaired, (1, 2))], axis=1)

    return fn
