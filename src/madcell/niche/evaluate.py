"""Agreement of predicted niches with the teacher's on held-out cells, with bootstrap CIs.

Resampling N held-out cells with replacement makes the (teacher × predicted) contingency table of a
bootstrap sample exactly Multinomial(N, table / N), so all B bootstrap tables are drawn in one call
and ARI, NMI (arithmetic normalisation) and AMI (expected MI from the hypergeometric model, as in
sklearn) are computed on the stacked tables with array code. Composition agreement: each predicted
niche is matched to a teacher niche by the Hungarian algorithm on their overlap, and the
Jensen–Shannon divergence (base 2, in [0, 1]) between the two niches' cell-type compositions is
averaged over matched pairs (0 = the predicted niches hold the same cell-type mixtures).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.special import gammaln

_EPS = np.finfo(np.float64).eps


def contingency(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    _, ai = np.unique(a, return_inverse=True)
    _, bi = np.unique(b, return_inverse=True)
    t = np.zeros((ai.max(initial=-1) + 1, bi.max(initial=-1) + 1), dtype=np.int64)
    np.add.at(t, (ai, bi), 1)
    return t


def _xlogx_ratio(n: np.ndarray, a: np.ndarray, b: np.ndarray, total: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        v = n / total * np.log(n * total / (a * b))
    return np.where(n > 0, v, 0.0)


def _entropy(m: np.ndarray, total: np.ndarray) -> np.ndarray:
    p = m / total
    with np.errstate(divide="ignore", invalid="ignore"):
        return -np.where(p > 0, p * np.log(p), 0.0).sum(-1)


def expected_mi(a: np.ndarray, b: np.ndarray, n: int, budget: float = 4e6) -> np.ndarray:
    """Expected mutual information under the permutation model; ``a`` (B, R), ``b`` (B, C).

    The hypergeometric sum over n_ij is restricted to mean ± 12 sd (the mass outside is < 1e-30),
    which keeps the cost ~ sqrt(N) per cell pair instead of N.
    """
    a, b = a.astype(np.float64)[:, :, None], b.astype(np.float64)[:, None, :]
    mu = a * b / n
    half = 12 * np.sqrt(mu + 1) + 1
    lo = np.maximum(np.maximum(1, a + b - n), np.floor(mu - half))
    hi = np.minimum(np.minimum(a, b), np.ceil(mu + half))
    w = int(max((hi - lo).max(initial=0) + 1, 1))
    B, R, C = mu.shape
    out = np.zeros(B)
    step = max(1, int(budget // (R * C * w)))
    k = np.arange(w, dtype=np.float64)
    lg_n = gammaln(n + 1)
    for s in range(0, B, step):
        ai, bj = a[s : s + step, :, :, None], b[s : s + step, :, :, None]
        nij = lo[s : s + step, :, :, None] + k
        valid = nij <= hi[s : s + step, :, :, None]
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            log_p = (
                gammaln(ai + 1) + gammaln(bj + 1) + gammaln(n - ai + 1) + gammaln(n - bj + 1) - lg_n
                - gammaln(nij + 1) - gammaln(ai - nij + 1) - gammaln(bj - nij + 1) - gammaln(n - ai - bj + nij + 1)
            )
            term = nij / n * np.log(n * nij / (ai * bj)) * np.exp(log_p)
        out[s : s + step] = np.where(valid, term, 0.0).sum(axis=(1, 2, 3))
    return out


def scores_from_tables(t: np.ndarray) -> dict[str, np.ndarray]:
    """ARI, NMI, AMI of stacked contingency tables (B, R, C)."""
    t = t.astype(np.float64)
    n = t.sum(axis=(1, 2))
    a, b = t.sum(2), t.sum(1)
    comb = lambda x: x * (x - 1) / 2  # noqa: E731
    sij, sa, sb, pairs = comb(t).sum((1, 2)), comb(a).sum(1), comb(b).sum(1), comb(n)
    exp = sa * sb / pairs
    den = (sa + sb) / 2 - exp
    ari = np.where(den != 0, (sij - exp) / np.where(den != 0, den, 1), 1.0)
    nn = n[:, None, None]
    mi = np.maximum(_xlogx_ratio(t, a[:, :, None], b[:, None, :], nn).sum((1, 2)), 0.0)
    ha, hb = _entropy(a, n[:, None]), _entropy(b, n[:, None])
    norm = (ha + hb) / 2
    trivial = (ha == 0) & (hb == 0)
    nmi = np.where(trivial, 1.0, mi / np.maximum(norm, _EPS))
    n0 = int(n[0])
    emi = expected_mi(a, b, n0)
    d = norm - emi
    d = np.where(d < 0, np.minimum(d, -_EPS), np.maximum(d, _EPS))
    ami = np.where(trivial, 1.0, (mi - emi) / d)
    return {"ari": ari, "nmi": nmi, "ami": ami}


def bootstrap_scores(
    reference: np.ndarray, predicted: np.ndarray, n_boot: int = 1000, ci: float = 0.95, seed: int = 0
) -> dict[str, dict[str, float]]:
    """{metric: {value, lo, hi}} with bootstrap CIs over resampled cells (the interval of every other
    madcell metric: :func:`madcell.evaluate.bootstrap.summarise`)."""
    from madcell.evaluate.bootstrap import summarise

    t = contingency(reference, predicted)
    n = int(t.sum())
    point = scores_from_tables(t[None])
    rng = np.random.default_rng(seed)
    boots = rng.multinomial(n, t.ravel() / n, size=int(n_boot)).reshape(-1, *t.shape)
    bs = scores_from_tables(boots)
    out = {}
    for m in point:
        s = summarise(float(point[m][0]), bs[m], ci)
        out[m] = {"value": float(s["mean"]), "lo": float(s["lo"]), "hi": float(s["hi"])}
    return out


def js_divergence(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Jensen–Shannon divergence in bits between rows of p and q (each normalised to sum 1)."""
    p = np.asarray(p, np.float64) / np.sum(p, axis=-1, keepdims=True)
    q = np.asarray(q, np.float64) / np.sum(q, axis=-1, keepdims=True)
    m = (p + q) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        kl_p = np.where(p > 0, p * np.log2(p / m), 0.0).sum(-1)
        kl_q = np.where(q > 0, q * np.log2(q / m), 0.0).sum(-1)
    return 0.5 * kl_p + 0.5 * kl_q


def match_niches(reference: np.ndarray, predicted: np.ndarray) -> dict[int, int]:
    """Hungarian matching predicted niche -> reference niche maximising overlap."""
    r_ids, ri = np.unique(reference, return_inverse=True)
    p_ids, pi = np.unique(predicted, return_inverse=True)
    t = np.zeros((len(r_ids), len(p_ids)), dtype=np.int64)
    np.add.at(t, (ri, pi), 1)
    rows, cols = linear_sum_assignment(-t)
    return {int(p_ids[c]): int(r_ids[r]) for r, c in zip(rows, cols)}


def composition_agreement(reference: np.ndarray, predicted: np.ndarray, onehot: np.ndarray) -> dict:
    """Mean JS divergence between each matched predicted niche's and teacher niche's composition."""
    pairs = match_niches(reference, predicted)
    per = {}
    for p, r in pairs.items():
        cp, cr = onehot[predicted == p].mean(0), onehot[reference == r].mean(0)
        per[str(p)] = {"teacher_niche": r, "js": float(js_divergence(cp, cr))}
    return {"mean_js": float(np.mean([v["js"] for v in per.values()])) if per else float("nan"), "per_niche": per}
