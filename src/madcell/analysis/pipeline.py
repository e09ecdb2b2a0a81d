"""``analyze``: the paper's downstream biology on one embedding AnnData (AnnData in, AnnData out).

Steps (each recorded in ``uns['madcell_analysis']``; tables returned for the report):

1. clusters of the embedding (Leiden or Louvain, ``resolution`` honoured by both) and its UMAP;
2. DE of each group (``groupby``: the clusters unless a column is named) against the rest on the
   measured expression and, when the AnnData carries decoder predictions (``madcell decode``:
   ``layers['pred_expression']``), on the predicted expression in the same space (the decoders'
   transform, e.g. log1p counts), and the concordance of the two (:mod:`.concordance`);
3. with ``gene_sets`` (a GMT the user gives): over-representation of each group's top DE genes and
   per-cell gene-set scores (``obs['gs_<set>']``);
4. with ``root``: diffusion pseudotime on the embedding and on measured expression (PCA of log1p
   normalised counts) from the same root cell, and their Spearman correlation over the cells both
   reach (cells in another component of the kNN graph than the root get NaN, counted in ``unreachable``).

Steps that need expression are skipped (and said so) when ``X`` is empty.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import anndata as ad
import numpy as np
import pandas as pd

from madcell.errors import InputError


def parse_root(adata: ad.AnnData, root: str | None):
    """``COLUMN=VALUE`` (the group's most central cell) or a cell id; None stays None."""
    if root is None:
        return None
    if "=" in root:
        col, value = root.split("=", 1)
        if col not in adata.obs:
            raise InputError("--root", f"obs has no column {col!r} (has: {', '.join(map(str, adata.obs.columns[:12]))})")
        if not (adata.obs[col].astype(str) == value).any():
            raise InputError("--root", f"no cell has {col} == {value!r}")
        return (col, value)
    if root not in adata.obs_names:
        raise InputError("--root", f"{root!r} is neither COLUMN=VALUE nor a cell id of the AnnData")
    return root


def _expression_pca(adata: ad.AnnData, n_pcs: int = 30, seed: int = 0) -> np.ndarray:
    import scanpy as sc

    from madcell.analysis.expression import dense_copy, log_normalise

    tmp = log_normalise(dense_copy(adata.X, pd.DataFrame(index=adata.obs_names), adata.var_names))
    sc.pp.pca(tmp, n_comps=min(n_pcs, tmp.n_vars - 1, tmp.n_obs - 1), random_state=seed)
    return tmp.obsm["X_pca"]


def _unreachable_to_nan(adata: ad.AnnData, col: str) -> None:
    """Cells in another component of the kNN graph than the root get dpt = inf: missing, not 'late'."""
    v = adata.obs[col].to_numpy(float)
    adata.obs[col] = np.where(np.isfinite(v), v, np.nan)


def run_analysis(adata: ad.AnnData, key: str | None = None, method: str = "leiden", resolution: float = 1.0,
                 groupby: str | None = None, gene_sets: Mapping[str, Sequence[str]] | None = None,
                 root: str | None = None, top_n: int = 50, seed: int = 0, log=print) -> dict:
    """Run the steps on ``adata`` (in place) and return ``{"tables": {...}, "summary": {...}}``."""
    from scipy.stats import spearmanr

    from madcell.analysis.concordance import de_concordance
    from madcell.analysis.embedding import cluster, pseudotime, umap
    from madcell.analysis.expression import differential_expression, enrichment
    from madcell.analysis.genesets import score_gene_sets
    from madcell.decode.anndata_decode import embedding_of
    from madcell.decode.transforms import transform_expression

    _, key = embedding_of(adata, key)
    root_spec = parse_root(adata, root)
    if groupby is not None and groupby not in adata.obs:
        raise InputError("--groupby", f"obs has no column {groupby!r}")
    summary: dict = {"embedding_key": key, "method": method, "resolution": float(resolution), "skipped": []}
    tables: dict[str, pd.DataFrame] = {}
    log(f"analyze: {method} clusters (resolution {resolution}) and UMAP of {key} on {adata.n_obs} cells")
    umap(adata, key)
    cluster(adata, key, method=method, resolution=resolution, seed=seed)
    ccol = f"{method}_{key}"
    summary.update(cluster_column=ccol, n_clusters=int(adata.obs[ccol].nunique()))
    group = groupby or ccol
    summary["groupby"] = group
    has_expr = adata.n_vars > 0
    if not has_expr:
        summary["skipped"].append("DE, gene sets and expression pseudotime: the AnnData has no expression in X")
    else:
        info = adata.uns.get("madcell_decode", {})
        pred = adata.layers["pred_expression"] if "pred_expression" in adata.layers else None
        if pred is not None:  # one space for both: the decoders' target transform
            genes = [g for g in info.get("genes", []) if g in adata.var_names] or list(adata.var_names)
            cols = adata.var_names.get_indexer(genes)
            sub = ad.AnnData(obs=adata.obs[[group]], var=pd.DataFrame(index=pd.Index(genes, dtype=str)))
            tf = info.get("transform", "log1p")
            log(f"analyze: DE of {group} on measured and predicted expression ({len(genes)} genes, {tf} space)")
            measured = differential_expression(sub, group, values=transform_expression(adata.X, tf, cols), normalize=False)
            # every target transform is >= 0; a regressor can undershoot, which would make fold changes NaN
            pv = np.clip(np.asarray(adata.layers["pred_expression"])[:, cols], 0, None)
            predicted = differential_expression(sub, group, values=pv, normalize=False)
            tables.update(de_measured=measured, de_predicted=predicted, de_concordance=de_concordance(measured, predicted))
            summary["de_space"] = tf
            summary["de_predicted_in_sample"] = bool(info.get("in_sample", False))
        else:
            log(f"analyze: DE of {group} on measured expression (normalise-total + log1p)")
            tables["de_measured"] = differential_expression(adata, group)
            summary["skipped"].append("predicted-vs-measured DE: no layers['pred_expression'] (run madcell decode first)")
        if gene_sets:
            log(f"analyze: {len(gene_sets)} gene sets: over-representation in each group's top {top_n} genes, per-cell scores")
            tables["enrichment"] = enrichment(adata, group, gene_sets, top_n=top_n, de=tables["de_measured"])
            scores, skipped = score_gene_sets(adata, gene_sets, seed=seed)
            summary.update(gene_set_scores=list(scores.columns), gene_sets_skipped=skipped)
    if root_spec is not None:
        log(f"analyze: diffusion pseudotime from {root}")
        pseudotime(adata, key, root_spec)
        _unreachable_to_nan(adata, f"dpt_{key}")
        summary["pseudotime"] = {"root": root, "column": f"dpt_{key}",
                                 "unreachable": int(adata.obs[f"dpt_{key}"].isna().sum())}
        if has_expr:
            adata.obsm["X_expression_pca"] = _expression_pca(adata, seed=seed)
            pseudotime(adata, "X_expression_pca", root_spec)
            _unreachable_to_nan(adata, "dpt_X_expression_pca")
            a, b = adata.obs[f"dpt_{key}"].to_numpy(float), adata.obs["dpt_X_expression_pca"].to_numpy(float)
            ok = np.isfinite(a) & np.isfinite(b)
            summary["pseudotime"].update(expression_column="dpt_X_expression_pca",
                                         spearman_vs_expression=float(spearmanr(a[ok], b[ok])[0]))
    adata.uns["madcell_analysis"] = summary
    return {"tables": tables, "summary": summary}
