"""Expression-side analysis: differential expression and gene-set over-representation.

DE runs scanpy's ``rank_genes_groups`` (Wilcoxon) on a log1p-normalised copy, so ``X`` keeps its
counts. Enrichment is a plain hypergeometric over-representation test of each group's top DE genes
against user-provided gene sets (a dict; nothing is downloaded), with the measured genes as the
universe and Benjamini-Hochberg correction across sets within a group.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import anndata as ad
import numpy as np
import pandas as pd


def dense_copy(X, obs: pd.DataFrame, var_names) -> ad.AnnData:
    """A float32 dense AnnData of ``X`` (sparse or dense) with ``obs`` and the gene names: scratch space
    for scanpy steps that must not touch the caller's counts."""
    X = X.toarray() if hasattr(X, "toarray") else X
    return ad.AnnData(X=np.asarray(X, dtype=np.float32), obs=obs.copy(), var=pd.DataFrame(index=pd.Index(var_names).astype(str)))


def log_normalise(adata: ad.AnnData) -> ad.AnnData:
    """In place: every cell to 10,000 counts, then log1p (scanpy's standard expression space)."""
    import scanpy as sc

    sc.pp.normalize_total(adata, target_sum=1e4)
    sc.pp.log1p(adata)
    return adata


def differential_expression(adata: ad.AnnData, groupby: str, method: str = "wilcoxon", n_genes: int | None = None,
                            values: np.ndarray | None = None, normalize: bool = True) -> pd.DataFrame:
    """Tidy DE table (group, names, scores, logfoldchanges, pvals, pvals_adj) of each group against the
    rest; also stored in ``adata.uns['rank_genes_<groupby>']``. By default on a normalise-total + log1p
    copy of ``X`` (``X`` keeps its counts); ``values`` (cells x genes, already in a log space, e.g.
    decoder-predicted expression) with ``normalize=False`` tests those values as they are, so measured
    and predicted expression can be compared in one space."""
    import scanpy as sc

    keep = adata.obs[groupby].notna().to_numpy()
    tmp = dense_copy(adata.X if values is None else values, adata.obs[[groupby]], adata.var_names)[keep].copy()
    tmp.obs[groupby] = tmp.obs[groupby].astype(str).astype("category")
    if normalize:
        log_normalise(tmp)
    else:  # already log values: tell scanpy, so its fold changes are not logged twice
        tmp.uns["log1p"] = {"base": None}
    sc.tl.rank_genes_groups(tmp, groupby, method=method, n_genes=n_genes or tmp.n_vars)
    adata.uns[f"rank_genes_{groupby}"] = tmp.uns["rank_genes_groups"]
    return sc.get.rank_genes_groups_df(tmp, group=None)


def _bh(p: np.ndarray) -> np.ndarray:
    n = len(p)
    order = np.argsort(p)
    adj = np.minimum.accumulate((p[order] * n / np.arange(1, n + 1))[::-1])[::-1]
    out = np.empty(n)
    out[order] = np.clip(adj, 0, 1)
    return out


def enrichment(adata: ad.AnnData, groupby: str, gene_sets: Mapping[str, Sequence[str]], top_n: int = 50,
               de: pd.DataFrame | None = None) -> pd.DataFrame:
    """Hypergeometric test of each group's ``top_n`` up-regulated genes against every gene set.
    Columns: group, gene_set, overlap, set_size, top_n, pval, pval_adj, genes."""
    from scipy.stats import hypergeom

    de = differential_expression(adata, groupby) if de is None else de
    universe = set(map(str, adata.var_names))
    rows = []
    for group, sub in de.groupby("group", observed=True):
        top = set(sub.sort_values("scores", ascending=False)["names"].astype(str).head(top_n))
        for name, genes in gene_sets.items():
            gs = set(map(str, genes)) & universe
            k = len(top & gs)
            p = hypergeom.sf(k - 1, len(universe), len(gs), len(top)) if gs else 1.0
            rows.append({"group": str(group), "gene_set": name, "overlap": k, "set_size": len(gs), "top_n": len(top),
                         "pval": float(p), "genes": ",".join(sorted(top & gs))})
    df = pd.DataFrame(rows, columns=["group", "gene_set", "overlap", "set_size", "top_n", "pval", "genes"])
    df["pval_adj"] = np.concatenate([_bh(g["pval"].to_numpy()) for _, g in df.groupby("group", sort=False)]) if len(df) else []
    return df.sort_values(["group", "pval"]).reset_index(drop=True)
