"""Vectorised bootstrap confidence intervals.

Resampling n cells with replacement is the same as giving every cell a multinomial count, so one
(B, n) weight matrix ``W`` describes all B resamples at once and every metric is written as a weighted
statistic (matrix products, no Python loop over resamples, no model refits: the per-cell predictions
are fixed and only the cells they are scored on are resampled). Resampling is stratified by slide so
each resample keeps the slides' proportions.

For cross-validated probes the same ``W`` is sliced per held-out fold and the metric is averaged over
folds x seeds, exactly as the point estimate is; the CI is the percentile interval of those averages.
"""

from __future__ import annotations

import warnings
from typing import Callable, Sequence

import numpy as np


def bootstrap_weights(n: int, n_boot: int, seed: int, strata: np.ndarray | None = None) -> np.ndarray:
    """(n_boot, n) float32 resampling counts; within each stratum they sum to its size."""
    rng = np.random.default_rng(seed)
    W = np.zeros((n_boot, n), dtype=np.float32)
    strata = np.zeros(n, dtype=np.int64) if strata is None else np.asarray(strata)
    for s in np.unique(strata):
        idx = np.flatnonzero(strata == s)
        W[:, idx] = rng.multinomial(len(idx), np.full(len(idx), 1.0 / len(idx)), size=n_boot)
    return W


def summarise(point, samples: np.ndarray, ci: float = 0.95) -> dict:
    """``{"mean": point, "lo": q, "hi": q}``, elementwise for vector metrics (lists).

    The interval is the bias-corrected percentile interval (Efron's BC): for ratio statistics such
    as correlations or centroid cosines the resampled values are biased relative to the estimate, and
    the plain percentile interval can then miss the estimate itself; BC shifts the quantiles by the
    fraction of resamples below the estimate (no shift for an unbiased statistic such as a mean).
    Where the estimate still falls outside (resamples all on one side of it), the interval is widened
    to include it, so a reported ``mean [lo, hi]`` is always ordered."""
    from scipy.stats import norm

    point_arr = np.asarray(point, dtype=np.float64)
    samples = np.asarray(samples, dtype=np.float64)
    a = (1.0 - ci) / 2.0
    if samples.size == 0:
        lo = hi = np.full(point_arr.shape, np.nan)
    else:
        valid = np.isfinite(samples)
        nb = np.maximum(valid.sum(axis=0), 1)
        frac = ((samples < point_arr) & valid).sum(axis=0) + 0.5 * ((samples == point_arr) & valid).sum(axis=0)
        frac = np.clip(frac / nb, 0.5 / nb, 1 - 0.5 / nb)
        z0 = norm.ppf(frac)
        z = norm.ppf([a, 1.0 - a])
        q_lo, q_hi = norm.cdf(2 * z0 + z[0]), norm.cdf(2 * z0 + z[1])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            lo = _nanquantile_per(samples, q_lo)
            hi = _nanquantile_per(samples, q_hi)
    with np.errstate(invalid="ignore"):
        lo = np.where(np.isfinite(point_arr), np.fmin(lo, point_arr), lo)
        hi = np.where(np.isfinite(point_arr), np.fmax(hi, point_arr), hi)
    conv = (lambda v: np.asarray(v, dtype=float).tolist()) if np.ndim(point) else (lambda v: float(np.asarray(v)))
    return {"mean": conv(point_arr), "lo": conv(lo), "hi": conv(hi)}


def _nanquantile_per(samples: np.ndarray, q) -> np.ndarray:
    """Quantile ``q[j]`` of column j (q may differ per column; scalar columns for 1-D samples)."""
    q = np.asarray(q, dtype=np.float64)
    if samples.ndim == 1:
        return np.nanquantile(samples, float(q)) if np.isfinite(samples).any() else np.nan
    flat = samples.reshape(len(samples), -1)
    qf = np.broadcast_to(q, flat.shape[1:]).ravel()
    out = np.array([np.nanquantile(flat[:, j], qf[j]) if np.isfinite(flat[:, j]).any() else np.nan
                    for j in range(flat.shape[1])])
    return out.reshape(samples.shape[1:])


def fold_samples(
    folds: Sequence[tuple[np.ndarray, Callable[[np.ndarray], np.ndarray]]],
    W: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """``folds``: (cell indices, metric(w) -> (B, ...)) per held-out fold. Returns the point estimate
    (mean over folds of metric(ones)) and the (B, ...) resampled means over folds of metric(W[:, idx])."""
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN folds (e.g. a class absent)
        points = [fn(np.ones((1, len(idx)), dtype=np.float32))[0] for idx, fn in folds]
        samples = [fn(W[:, idx]) for idx, fn in folds]
        return np.nanmean(np.stack(points), axis=0), np.nanmean(np.stack(samples), axis=0)


def fold_bootstrap(folds, W: np.ndarray, ci: float = 0.95) -> dict:
    """:func:`fold_samples` summarised as ``{"mean", "lo", "hi"}``."""
    return summarise(*fold_samples(folds, W), ci)


def mean_over_last(point: np.ndarray, samples: np.ndarray, ci: float = 0.95) -> dict:
    """Summary of the mean over the last axis (e.g. over genes) of a vector metric."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return summarise(np.nanmean(point), np.nanmean(samples, axis=-1), ci)


def weighted_mean(values: np.ndarray, w: np.ndarray) -> np.ndarray:
    """(B,) weighted means of a per-cell vector (or (B, k) for an (n, k) matrix)."""
    values = np.asarray(values, dtype=np.float32)
    den = w.sum(axis=1)
    num = w @ values
    return num / (den if num.ndim == 1 else den[:, None])


def weighted_pearson(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """(B, G) weighted Pearson correlation of the columns of x and y ((n, G) each); NaN when a
    column is constant under the weights."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if x.ndim == 1:
        x, y = x[:, None], y[:, None]
    x = x - x.mean(axis=0)  # centring first keeps the moment formulas numerically stable
    y = y - y.mean(axis=0)
    w = np.asarray(w, dtype=np.float64)
    s = w.sum(axis=1, keepdims=True)
    mx, my = (w @ x) / s, (w @ y) / s
    cov = (w @ (x * y)) / s - mx * my
    vx = (w @ (x * x)) / s - mx**2
    vy = (w @ (y * y)) / s - my**2
    den = np.sqrt(np.clip(vx, 0, None) * np.clip(vy, 0, None))
    return np.where(den > 1e-12, cov / np.where(den > 1e-12, den, 1.0), np.nan)


def bootstrap_mean_ci(values: np.ndarray, n_boot: int = 1000, ci: float = 0.95, seed: int = 0,
                      strata: np.ndarray | None = None) -> dict:
    """CI of a plain mean (the simplest use; also what the tests check coverage on)."""
    values = np.asarray(values, dtype=np.float64)
    W = bootstrap_weights(len(values), n_boot, seed, strata)
    return summarise(values.mean(), (W @ values) / W.sum(axis=1), ci)
