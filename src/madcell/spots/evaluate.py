"""Spot-level scoring of every pooled embedding (the HEST protocol, on the spots of one or more sections).

For each embedding key of a spot AnnData (:func:`madcell.spots.pool.pool_to_spots`), with the same
folds for every key (``evaluate``'s group-aware splits: sections when there are enough, spatial
blocks of one section otherwise) and the same slide-stratified bootstrap:

* ``hest``: ridge on the standardised, PCA-reduced embedding -> log1p of the top-N variable genes,
  per-gene Pearson with CIs (:func:`madcell.benchmark.hest.hest_gene_prediction`);
* ``evaluate``: :func:`madcell.evaluate.evaluate_anndata` on the same genes (the 2-layer MLP decoders:
  per-gene Pearson / MAE with CIs) and the spot labels (e.g. expression clusters: kNN / linear probes);
* ``<table>``: ridge -> each column of a spot label table (e.g. deconvolved cell-type proportions),
  per-column Pearson with CIs.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import anndata as ad
import numpy as np
import pandas as pd

from madcell.benchmark.hest import HEST_DEFAULTS, hest_gene_prediction, select_genes
from madcell.config import default_config, merge
from madcell.spots.pool import embedding_keys


def _table_adata(spots: ad.AnnData, name: str, key: str) -> ad.AnnData:
    cols = spots.uns["madcell_spots"]["label_tables"][name]
    t = ad.AnnData(X=np.asarray(spots.obsm[name], np.float32), obs=spots.obs[["slide"]].copy())
    t.var_names = cols
    t.obsm[key], t.obsm["spatial"] = spots.obsm[key], spots.obsm["spatial"]
    return t


def evaluate_spots(spots: ad.AnnData, keys: Sequence[str] | None = None, cfg: Mapping | None = None,
                   hest: Mapping | None = None, labels: Sequence[str] | None = None) -> dict:
    """``{key: {"hest": ..., "evaluate": ..., "tables": {name: ...}}}`` plus the protocol (module docstring).

    ``cfg``: the config (``evaluate`` / ``decode`` sections used); ``hest``: overrides of the HEST
    defaults (``n_genes``, ``pca_dims``, ...); ``labels``: spot label columns to probe (default: all)."""
    from madcell.evaluate import evaluate_anndata

    cfg = merge(default_config(), dict(cfg or {}), "config")
    hc = {**HEST_DEFAULTS, **dict(hest or {})}
    info = spots.uns.get("madcell_spots", {})
    labels = list(info.get("label_columns", [])) if labels is None else list(labels)
    labels = [c for c in labels if spots.obs[c].nunique() > 1]
    seen, kept = set(), []  # a column that only renames another (a cluster and its annotation) is scored once
    for c in labels:
        f = tuple(pd.factorize(spots.obs[c].astype(str))[0])
        if f not in seen:
            seen.add(f)
            kept.append(c)
    labels = kept
    genes = [str(spots.var_names[c]) for c in select_genes(spots, hc["genes"], hc["n_genes"])] if spots.n_vars else None
    out: dict = {"n_spots": int(spots.n_obs), "genes": genes, "labels": labels, "spots": dict(info), "methods": {},
                 "gene_selection": (f"top {hc['n_genes']} most variable (log1p, all spots)" if hc["genes"] == "hvg"
                                    else str(hc["genes"]))}
    for key in keys or embedding_keys(spots):
        res: dict = {}
        if genes:
            res["hest"] = hest_gene_prediction(spots, {**hc, "genes": genes}, cfg["evaluate"], key)
        sub = spots[:, genes] if genes else spots
        res["evaluate"] = evaluate_anndata(sub, labels, "all" if genes else None, cfg, key=key)
        res["evaluate"].pop("_samples", None)
        res["tables"] = {name: hest_gene_prediction(_table_adata(spots, name, key), {**hc, "genes": "all",
                                                                                     "targets": "counts"},
                                                    cfg["evaluate"], key)
                         for name in info.get("label_tables", {})}
        out["methods"][key] = res
    return out


def summary_rows(result: Mapping) -> list[dict]:
    """One row per (embedding, metric): mean and CI — the table a report or BENCHMARKS.md shows."""
    rows = []
    for key, res in result["methods"].items():
        def add(metric, leaf):
            rows.append({"embedding": key, "metric": metric, "mean": leaf["mean"], "lo": leaf["lo"], "hi": leaf["hi"]})

        if "hest" in res:
            add("genes: ridge Pearson (mean over genes)", res["hest"]["pearson_mean"])
        g = res["evaluate"].get("genes", {})
        for m in ("pearson", "mae"):
            if m in g:
                add(f"genes: MLP {m} (mean over genes)", g[m])
        for lab, v in res["evaluate"].get("labels", {}).items():
            for probe in ("knn", "linear", "mlp"):
                for score in ("accuracy", "balanced_accuracy"):
                    if score in v.get(probe, {}):
                        add(f"{lab}: {probe} {score.replace('_', ' ')}", v[probe][score])
            for clus in ("leiden", "kmeans"):
                for score in ("ari", "nmi"):
                    if score in v.get(clus, {}):
                        add(f"{lab}: {clus} {score.upper()}", v[clus][score])
        for name, t in res["tables"].items():
            add(f"{name}: ridge Pearson (mean over columns)", t["pearson_mean"])
    return rows
