"""HEST-style gene-expression prediction, an alternative to the MLP decoders of ``evaluate``.

Protocol (after HEST-Benchmark, Jaume et al. 2024), every choice reported in the result's
``protocol``: targets are log1p(counts) (``targets``; ``counts`` = as given, e.g. proportions) of the selected genes (``genes: hvg`` = the ``n_genes`` most
variable genes of log1p expression over all cells, label-free; ``all``; or an explicit list). On each
training split the embedding is standardised and reduced by PCA to ``min(pca_dims, d, n_train - 1)``
dimensions (``pca_dims: null`` = no PCA), then a ridge regression with HEST's fixed
``alpha = 100 / (n_features * n_genes)`` (or a number) predicts every gene. The splits are
``evaluate``'s group-aware folds; for each seed the held-out predictions of all folds are concatenated
and the per-gene Pearson r is computed on that concatenation; the headline is the mean over genes,
averaged over seeds. CIs: the same slide-stratified cell bootstrap as ``evaluate`` (predictions fixed,
cells resampled).
"""

from __future__ import annotations

from typing import Mapping

import anndata as ad
import numpy as np
from sklearn.decomposition import PCA
from sklearn.linear_model import Ridge
from sklearn.preprocessing import StandardScaler

from madcell.decode.anndata_decode import embedding_of
from madcell.decode.transforms import transform_expression, transform_label
from madcell.errors import InputError
from madcell.evaluate.bootstrap import bootstrap_weights, mean_over_last, summarise, weighted_pearson
from madcell.evaluate.splits import make_splits, resolve_split, slides_of

HEST_DEFAULTS = {"genes": "hvg", "n_genes": 50, "pca_dims": 256, "alpha": "hest", "targets": "log1p"}


def select_genes(adata: ad.AnnData, genes, n_genes: int) -> list[int]:
    """Column indices of the genes to predict."""
    if adata.n_vars == 0:
        raise InputError(None, "the embedding AnnData carries no expression to predict")
    if genes == "all":
        return list(range(adata.n_vars))
    if genes == "hvg":
        var = transform_expression(adata.X, "log1p").var(axis=0)
        order = np.argsort(-var, kind="stable")
        return sorted(order[: min(int(n_genes), adata.n_vars)].tolist())
    names = list(map(str, adata.var_names))
    missing = [g for g in genes if g not in names]
    if missing:
        raise InputError(None, f"hest.genes not in the expression: {', '.join(missing[:10])}")
    return [names.index(g) for g in genes]


def fit_predict(X_tr: np.ndarray, Y_tr: np.ndarray, X_te: np.ndarray, pca_dims: int | None, alpha) -> tuple[np.ndarray, int, float]:
    """Standardise -> PCA (fit on train) -> ridge; returns test predictions, PCA dims used, alpha."""
    sc = StandardScaler().fit(X_tr)
    A, B = sc.transform(X_tr), sc.transform(X_te)
    k = A.shape[1]
    if pca_dims is not None:
        k = max(1, min(int(pca_dims), A.shape[1], A.shape[0] - 1))
        pca = PCA(n_components=k, random_state=0).fit(A)
        A, B = pca.transform(A), pca.transform(B)
    a = 100.0 / (k * Y_tr.shape[1]) if alpha == "hest" else float(alpha)
    reg = Ridge(alpha=a).fit(A, Y_tr)  # intercept fitted: features are centred, so Pearson is unchanged
    return reg.predict(B), k, a


def hest_gene_prediction(adata: ad.AnnData, hest_cfg: Mapping | None, eval_cfg: Mapping, key: str | None = None) -> dict:
    """Per-gene Pearson of the HEST protocol; ``eval_cfg`` is the ``evaluate`` section (folds, seeds,
    split, bootstrap, ci). Returns ``{"protocol", "pearson_mean", "per_gene": {"gene", "pearson"}}``."""
    hc = {**HEST_DEFAULTS, **dict(hest_cfg or {})}
    X, key = embedding_of(adata, key)
    cols = select_genes(adata, hc["genes"], hc["n_genes"])
    Y = transform_expression(adata.X, hc["targets"], cols).astype(np.float64)
    splits = make_splits(adata, eval_cfg)
    seeds = sorted({s.seed for s in splits})
    preds = {s: np.full_like(Y, np.nan) for s in seeds}
    dims, alphas = set(), set()
    for s in splits:
        P, k, a = fit_predict(X[s.train], Y[s.train], X[s.test], hc["pca_dims"], hc["alpha"])
        preds[s.seed][s.test] = P
        dims.add(k)
        alphas.add(a)
    _, strata = np.unique(slides_of(adata), return_inverse=True)
    W = bootstrap_weights(adata.n_obs, int(eval_cfg["bootstrap"]), int(eval_cfg.get("seed", 0)), strata)
    ones = np.ones((1, adata.n_obs))
    point, samples = [], []
    for seed in seeds:
        ok = ~np.isnan(preds[seed]).any(1)
        point.append(weighted_pearson(preds[seed][ok], Y[ok], ones[:, ok])[0])
        samples.append(weighted_pearson(preds[seed][ok], Y[ok], W[:, ok]))
    point, samples = np.nanmean(point, axis=0), np.nanmean(samples, axis=0)
    ci = float(eval_cfg["ci"])
    genes = [str(adata.var_names[c]) for c in cols]
    return {
        "embedding_key": key,
        "protocol": {
            "targets": transform_label(hc["targets"]),
            "gene_selection": (f"top {len(cols)} most variable (log1p, all cells)" if hc["genes"] == "hvg"
                               else "all genes" if hc["genes"] == "all" else "explicit list"),
            "n_genes": len(cols),
            "features": "standardised embedding" + (f" -> PCA ({', '.join(map(str, sorted(dims)))} dims, fit per training split)"
                                                     if hc["pca_dims"] is not None else " (no PCA)"),
            "regressor": f"ridge, alpha = {'100 / (n_features * n_genes)' if hc['alpha'] == 'hest' else hc['alpha']}"
                         f" ({', '.join(f'{a:.3g}' for a in sorted(alphas))})",
            "split": f"{resolve_split(adata, int(eval_cfg['n_folds']), eval_cfg['split'])} folds: "
                     f"{eval_cfg['n_folds']} folds x seeds {list(seeds)}",
            "aggregation": "per-gene Pearson on the concatenated held-out predictions of each seed, mean over "
                           "seeds, then mean over genes",
            "ci": f"{ci:.0%} percentile bootstrap of cells stratified by slide ({W.shape[0]} resamples)",
        },
        "pearson_mean": mean_over_last(point, samples, ci),
        "per_gene": {"gene": genes, "pearson": summarise(point, samples, ci)},
    }
