"""``evaluate_anndata``: every metric family on one embedding AnnData, each number with a 95 % CI.

Probes (kNN, linear, MLP, gene decoders, CCA) use group-aware folds (:mod:`.splits`): fit on the
training folds, scored on the held-out fold, averaged over folds x seeds; CIs come from one shared
stratified bootstrap of cells (:mod:`.bootstrap`). Clustering and retrieval are unsupervised and are
bootstrapped over all labelled cells. ``within`` scores a label inside the groups of another
(:mod:`.within`). The bootstrap samples of the headline numbers are kept (:mod:`.samples`) for paired
comparisons between methods. ``write_metrics`` writes metrics.json (everything), metrics.csv (one row
per scalar), per_gene.csv and bootstrap.npz.
"""

from __future__ import annotations

import time
from typing import Mapping, Sequence

import anndata as ad
import numpy as np

from madcell.decode.anndata_decode import check_labels, embedding_of, label_values, resolve_genes
from madcell.decode.transforms import transform_expression, transform_label
from madcell.evaluate import cca as cca_mod
from madcell.errors import InputError
from madcell.evaluate import clustering, genes as genes_mod, heterogeneity as het, retrieval
from madcell.evaluate.bootstrap import bootstrap_weights, fold_bootstrap, fold_samples, mean_over_last, summarise
from madcell.evaluate.labels import label_metrics
from madcell.evaluate.samples import SampleLog, weights_fingerprint
from madcell.evaluate.splits import make_splits, resolve_split, slides_of
from madcell.evaluate.within import within_metrics
from madcell.utils.device import single_threaded
from madcell.utils.log import status


def _sections(cfg: Mapping | None) -> tuple[dict, dict, int]:
    from madcell.config import load_config, merge

    full = load_config()
    if cfg is not None and "evaluate" in cfg:
        full = merge(full, {k: v for k, v in cfg.items() if k in full}, "config")
    elif cfg is not None:
        full = merge(full, {"evaluate": dict(cfg)}, "evaluate config")
    return dict(full["evaluate"]), dict(full["decode"]), int(full["prepare"]["micro_size"])


def _micro_half_side(adata: ad.AnnData, default_micro_size: int) -> np.ndarray | None:
    info = adata.uns.get("madcell", {})
    if info.get("spatial_unit", "um") != "um" or "micro_um_per_px" not in adata.obs:
        return None
    size = info.get("micro_size")
    if size is None:
        try:
            from madcell.data.source import open_views

            size = open_views(info["store"]).micro_size
        except Exception:  # store moved or absent: the configured view size is the best guess
            size = default_micro_size
    half = adata.obs["micro_um_per_px"].to_numpy(dtype=np.float64) * float(size) / 2.0
    return half if np.all(np.isfinite(half)) and np.all(half > 0) else None


def _check_within(adata: ad.AnnData, labels: Sequence[str], within: Mapping | None,
                  within_classes: Mapping | None) -> tuple[dict, dict]:
    within = {str(k): str(v) for k, v in (within or {}).items() if str(k) != str(v)}
    for lab, grp in within.items():
        if lab not in labels:
            raise InputError("--within", f"label '{lab}' is not among the scored labels ({', '.join(labels) or 'none'})")
        if grp not in adata.obs.columns:
            raise InputError("--within", f"obs has no grouping column '{grp}' (has: {', '.join(map(str, adata.obs.columns))})")
    classes = {str(k): [str(c) for c in v] for k, v in (within_classes or {}).items() if v}
    return within, classes


def degeneracy(X: np.ndarray) -> dict:
    """``{"n_distinct_rows", "total_variance", "degenerate"}``: a collapsed embedding (one distinct row, or
    no variance) is flagged so that its scores are never read as a model's (ties never count as hits)."""
    distinct = int(len(np.unique(np.round(np.asarray(X, np.float64), 6), axis=0)))
    var = float(np.asarray(X, np.float64).var(axis=0).sum())
    return {"n_distinct_rows": distinct, "total_variance": var, "degenerate": bool(distinct <= 1 or var < 1e-12)}


MIN_CELLS = 30


@single_threaded
def evaluate_anndata(adata: ad.AnnData, labels: Sequence[str], genes: str | Sequence[str] | None = "all",
                     cfg: Mapping | None = None, key: str | None = None, within: Mapping[str, str] | None = None,
                     within_classes: Mapping[str, Sequence[str]] | None = None) -> dict:
    """Nested metrics; every leaf is ``{"mean", "lo", "hi"}``. ``cfg``: full config, or the
    ``evaluate`` section (overrides of default.yaml).

    ``within``: ``{label: grouping column}``, e.g. ``{"subtype": "cell_type"}``: the label is also
    scored inside each group (``labels.<label>.within_<column>``); ``within_classes``: ``{label:
    [class, ...]}`` adds the same restricted to those classes (``within_<column>_selected``).
    The result's ``_samples`` (a :class:`~madcell.evaluate.samples.SampleLog`, not JSON) holds the
    bootstrap samples of the headline numbers; ``write_metrics`` stores it as bootstrap.npz."""
    ec, dc, micro_size = _sections(cfg)
    t0 = time.perf_counter()
    X, key = embedding_of(adata, key)
    need = max(MIN_CELLS, 5 * int(ec["n_folds"]))
    if adata.n_obs < need:
        raise InputError(adata.uns.get("madcell", {}).get("path") or "embedding AnnData",
                         f"has {adata.n_obs} cells; the evaluation needs at least {need} ({ec['n_folds']} held-out "
                         "folds with several cells each, bootstrap intervals)")
    labels = check_labels(adata, labels)
    within, within_classes = _check_within(adata, labels, within, within_classes)
    gene_list = resolve_genes(adata, genes)
    n, ci, seed = adata.n_obs, float(ec["ci"]), int(ec["seed"])
    _, strata = np.unique(slides_of(adata), return_inverse=True)
    W = bootstrap_weights(n, int(ec["bootstrap"]), seed, strata)
    log = SampleLog(weights_fingerprint(adata.obs_names, int(ec["bootstrap"]), seed, strata), ci)
    splits = make_splits(adata, ec)
    info = adata.uns.get("madcell", {})
    res: dict = {"method": info.get("method", key), "embedding_key": key, "n_cells": int(n), "dim": int(X.shape[1]),
                 "split": {"kind": resolve_split(adata, int(ec["n_folds"]), ec["split"]), "n_folds": int(ec["n_folds"]),
                           "seeds": [int(s) for s in ec["seeds"]], "n_splits": len(splits)},
                 "bootstrap": int(ec["bootstrap"]), "ci": ci, "labels": {}, "timing_s": {}}
    res.update(degeneracy(X))
    if res["degenerate"]:
        import warnings

        warnings.warn(f"embedding {key} is degenerate ({res['n_distinct_rows']} distinct rows of {n}, total variance "
                      f"{res['total_variance']:.3g}): every score below measures a collapsed model")
    tick = time.perf_counter()
    kcache: dict[int, np.ndarray] = {}

    def kmeans(k: int) -> np.ndarray:
        if k not in kcache:
            kcache[k] = clustering.kmeans_labels(X, k, seed)
        return kcache[k]

    clusters = {"kmeans": kmeans, "leiden": clustering.leiden_labels(X, float(ec["leiden_resolution"]), seed, method=ec["neighbors_method"])
                if labels else None}
    for col in labels:
        status("evaluate: label %s (clustering, kNN / linear probes, %d splits) on %d cells", col, len(splits), n)
        y = label_values(adata, col)
        known = np.array([v is not None for v in y])
        node = res["labels"][col] = label_metrics(X, y, known, splits, W, clusters, ec, dc, log, f"labels.{col}")
        if col in within and "skipped" not in node:
            grp = within[col]
            groups = label_values(adata, grp)
            path = f"labels.{col}.within_{grp}"
            node[f"within_{grp}"] = within_metrics(X, y, groups, splits, W, ec, log, path)
            if col in within_classes:
                node[f"within_{grp}_selected"] = within_metrics(X, y, groups, splits, W, ec, log, f"{path}_selected",
                                                               within_classes[col])
    res["timing_s"]["labels"] = time.perf_counter() - tick
    morph, micro = f"{key}_morph", f"{key}_micro"
    if morph in adata.obsm and micro in adata.obsm and adata.obsm[morph].shape == adata.obsm[micro].shape:
        tick = time.perf_counter()
        status("evaluate: cross-view Recall@K")
        hits = retrieval.recall_hits(adata.obsm[morph], adata.obsm[micro], ec["retrieval_ks"])
        res["retrieval"] = {"query": "morph", "gallery": "micro", "n_cells": int(n)}
        for k, h in hits.items():
            pt = h.mean()
            res["retrieval"][f"recall@{k}"] = log.summary(f"retrieval.recall@{k}", pt, (W @ h.astype(np.float32)) / W.sum(1))
            res["retrieval"][f"chance@{k}"] = retrieval.chance_recall(n, k)
        res["timing_s"]["retrieval"] = time.perf_counter() - tick
    if gene_list:
        tick = time.perf_counter()
        status("evaluate: %d genes (held-out decoders, CCA, heterogeneity)", len(gene_list))
        res.update(_gene_families(adata, X, gene_list, labels, splits, W, ec, dc, micro_size, log))
        res["timing_s"]["genes"] = time.perf_counter() - tick
    res["timing_s"]["total"] = time.perf_counter() - t0
    res["_samples"] = log
    return res


def _mean_samples(point: np.ndarray, samples: np.ndarray) -> tuple[float, np.ndarray]:
    """Point and (B,) samples of the mean over the last axis (as :func:`mean_over_last` summarises)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(np.nanmean(point)), np.nanmean(samples, axis=-1)


def _gene_families(adata, X, gene_list, labels, splits, W, ec, dc, micro_size, log: SampleLog) -> dict:
    ci = float(ec["ci"])
    cols = adata.var_names.get_indexer(gene_list)
    Y = transform_expression(adata.X, dc["gene_transform"], cols)
    dsplits = [s for s in splits if s.seed in set(int(v) for v in ec["seeds"][: max(1, int(ec["decoder_seeds"]))])]
    preds = genes_mod.heldout_gene_predictions(X, Y, dsplits, dc, gene_list)
    tests = [s.test for s in dsplits]
    pear = fold_samples([(t, genes_mod.pearson_fn(Y[t], p)) for t, p in zip(tests, preds)], W)
    mae = fold_samples([(t, genes_mod.mae_fn(Y[t], p)) for t, p in zip(tests, preds)], W)
    g = {"transform": dc["gene_transform"], "space": transform_label(dc["gene_transform"]), "n_genes": len(gene_list),
         "pearson": log.summary("genes.pearson", *_mean_samples(*pear)),
         "mae": log.summary("genes.mae", *_mean_samples(*mae)),
         "per_gene": {"gene": list(gene_list), "pearson": summarise(*pear, ci), "mae": summarise(*mae, ci)}}
    out: dict = {"genes": g}
    # CCA between embedding and expression
    folds_corr: list = []
    folds_null: list = []
    cent: dict = {c: [] for c in labels}
    rng = np.random.default_rng(int(ec["seed"]))
    for s in splits:
        te_fn, tg_fn = cca_mod.fit_cca(X[s.train], Y[s.train], int(ec["cca_image_dims"]), int(ec["cca_gene_dims"]),
                                       int(ec["cca_components"]), s.seed)
        U, V = te_fn(X[s.test]), tg_fn(Y[s.test])
        folds_corr.append((s.test, cca_mod.canonical_corr_fn(U, V)))
        folds_null.append((s.test, cca_mod.canonical_corr_fn(U, V[rng.permutation(len(V))])))
        for col in labels:
            y = label_values(adata, col)[s.test]
            ok = np.array([v is not None for v in y])
            if ok.sum() >= 2 and len(set(y[ok])) >= 2:
                w_ok = s.test[ok]
                cent[col].append((w_ok, cca_mod.centroid_alignment_fn(U[ok], V[ok], y[ok].astype(str))))
    corr, null = fold_samples(folds_corr, W), fold_samples(folds_null, W)
    cc = {"canonical_corr": summarise(*corr, ci), "mean_corr": log.summary("cca.mean_corr", *_mean_samples(*corr)),
          "null_canonical_corr": summarise(*null, ci), "null_mean_corr": mean_over_last(*null, ci), "centroids": {}}
    for col, folds in cent.items():
        if folds:
            pt, sm = fold_samples(folds, W)
            cc["centroids"][col] = {name: summarise(pt[j], sm[:, j], ci)
                                    for j, name in enumerate(("top1", "paired_cos", "unpaired_cos"))}
    cc["n_components"] = len(cc["canonical_corr"]["mean"])
    out["cca"] = cc
    # heterogeneity of the microenvironment patch vs gene-prediction error
    half = _micro_half_side(adata, micro_size)
    A = het.patch_matrix(adata.obsm["spatial"], slides_of(adata), half, int(ec["heterogeneity_k"]))
    h = het.patch_heterogeneity(transform_expression(adata.X, "cp10k_log1p", cols), A)
    nb = int(ec["heterogeneity_bins"])
    bins, edges = het.quantile_bins(h, nb)
    mse_folds = [(t, het.binned_mean_fn(genes_mod.per_cell_mse(Y[t], p), bins[t], nb)) for t, p in zip(tests, preds)]
    out["heterogeneity"] = {"patch": "window" if half is not None else f"knn{int(ec['heterogeneity_k'])}",
                            "edges": edges.tolist(), "mean_patch_size": float(np.diff(A.indptr).mean()),
                            "mse_by_bin": fold_bootstrap(mse_folds, W, ci)}
    return out
