"""The expression-side teacher: niches = mixture components of neighbourhood compositions.

A Gaussian mixture (default) or k-means with K components is fitted on the TRAINING cells'
compositions only; its posterior probabilities are the soft targets the student distils. The fitted
teacher is then applied unchanged to held-out compositions to give the reference niches there.
k-means soft assignments are a softmax of negative squared distances scaled by the mean
within-cluster variance, so both teachers yield calibrated-looking probabilities.

Optional automatic K: for each candidate (K-1, K, K+1) the teacher is fitted on two random halves
of the training cells and the two fits' labels of all training cells are compared by ARI, averaged
over ``n_boot`` pairs; the most stable K wins (ties go to the requested K).
"""

from __future__ import annotations

import numpy as np
from scipy.special import softmax
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score
from sklearn.mixture import GaussianMixture


class NicheTeacher:
    """Fit on compositions (N, T); ``predict_proba`` -> (N, K), ``predict`` -> (N,) niche ids."""

    def __init__(self, k: int = 8, method: str = "gmm", seed: int = 0, reg_covar: float = 1e-3, n_init: int = 3):
        if method not in ("gmm", "kmeans"):
            raise ValueError(f"unknown teacher method {method!r} (gmm | kmeans)")
        self.k, self.method, self.seed, self.reg_covar, self.n_init = int(k), method, seed, reg_covar, n_init
        self.model = None
        self._scale = 1.0

    def fit(self, comp: np.ndarray) -> "NicheTeacher":
        comp = np.asarray(comp, dtype=np.float64)
        k = min(self.k, len(np.unique(comp, axis=0)))
        if self.method == "gmm":
            self.model = GaussianMixture(
                k, covariance_type="full", reg_covar=self.reg_covar, n_init=self.n_init, random_state=self.seed
            ).fit(comp)
        else:
            self.model = KMeans(k, n_init=self.n_init, random_state=self.seed).fit(comp)
            self._scale = max(self.model.inertia_ / max(len(comp), 1), 1e-8)
        return self

    @property
    def n_niches(self) -> int:
        return int(self.model.n_components if self.method == "gmm" else self.model.n_clusters)

    def predict_proba(self, comp: np.ndarray) -> np.ndarray:
        comp = np.asarray(comp, dtype=np.float64)
        if self.method == "gmm":
            return self.model.predict_proba(comp)
        d2 = ((comp[:, None, :] - self.model.cluster_centers_[None]) ** 2).sum(-1)
        return softmax(-d2 / (2 * self._scale), axis=1)

    def predict(self, comp: np.ndarray) -> np.ndarray:
        return self.predict_proba(comp).argmax(axis=1)


def stability(comp: np.ndarray, k: int, method: str, seed: int, n_boot: int = 5) -> float:
    """Mean ARI between teachers fitted on two disjoint random halves (labels of all cells)."""
    rng = np.random.default_rng(seed)
    scores = []
    for b in range(n_boot):
        perm = rng.permutation(len(comp))
        h1, h2 = perm[: len(comp) // 2], perm[len(comp) // 2 :]
        t1 = NicheTeacher(k, method, seed + b, n_init=1).fit(comp[h1])
        t2 = NicheTeacher(k, method, seed + b, n_init=1).fit(comp[h2])
        scores.append(adjusted_rand_score(t1.predict(comp), t2.predict(comp)))
    return float(np.mean(scores))


def choose_k(comp: np.ndarray, k: int, method: str = "gmm", seed: int = 0, n_boot: int = 5) -> tuple[int, dict]:
    """Most stable K among K-1, K, K+1 (K >= 2); returns (K, {K: stability})."""
    cands = [c for c in (k - 1, k, k + 1) if c >= 2]
    scores = {c: stability(comp, c, method, seed, n_boot) for c in cands}
    best = max(cands, key=lambda c: (round(scores[c], 6), c == k))
    return best, scores
