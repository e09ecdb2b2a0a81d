"""Figures and the Markdown section of ``madcell analyze`` (:func:`madcell.analysis.run_analysis`).

``write_analysis(adata, result, out_dir)`` writes the tables (CSV), ``figures/*.png`` and
``analysis.md``; every figure function returns the path and plots exactly the series named in its
docstring, so tests can check their content.
"""

from __future__ import annotations

from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd

from madcell.report.figures import _legend_handles, _natural, _palette, _point_size, _save, plt
from madcell.utils.atomic import atomic_write_text

MAX_PANELS = 8
LFC_LIM = 8.0  # volcano x range: fold changes beyond it are drawn at the edge


def _grid(n: int, width: float = 3.4, height: float = 3.2):
    nc = min(4, max(n, 1))
    nr = int(np.ceil(max(n, 1) / nc))
    fig, axes = plt.subplots(nr, nc, figsize=(width * nc, height * nr + 0.4), squeeze=False)
    for ax in axes.ravel()[n:]:
        ax.set_visible(False)
    return fig, axes.ravel()


def plot_clusters(umap_xy: np.ndarray, xy: np.ndarray, clusters: np.ndarray, title: str, path: Path) -> Path:
    """Left: UMAP coloured by cluster; right: the same clusters on the tissue (µm or px)."""
    vals = clusters.astype(str)
    pal = _palette(vals)
    fig, axes = plt.subplots(1, 2, figsize=(11.0, 5.0))
    for ax, pts, what in ((axes[0], umap_xy, "UMAP"), (axes[1], xy, "tissue")):
        ax.scatter(pts[:, 0], pts[:, 1], c=[pal[v] for v in vals], s=_point_size(len(vals)), linewidths=0, rasterized=True)
        ax.set_xticks([]), ax.set_yticks([])
        ax.set_title(f"{title} — {what}")
    axes[1].set_aspect("equal"), axes[1].invert_yaxis()
    handles = _legend_handles(pal)
    fig.legend(handles=handles, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False, title="cluster",
               ncol=1 if len(pal) <= 20 else 2)
    fig.tight_layout()
    return _save(fig, path)


def plot_volcanos(de: pd.DataFrame, title: str, path: Path, alpha: float = 0.05, n_label: int = 4) -> Path:
    """One panel per group (at most MAX_PANELS, in natural order: 2 before 10): x = log2 fold change (clipped at
    +-LFC_LIM), y = -log10 adjusted p; significant up / down genes coloured, the top ``n_label`` up genes named."""
    groups = sorted(dict.fromkeys(de["group"].astype(str)), key=_natural)[:MAX_PANELS]
    fig, axes = _grid(len(groups))
    for ax, g in zip(axes, groups):
        d = de[de["group"].astype(str) == g]
        x = np.clip(d["logfoldchanges"].to_numpy(float), -LFC_LIM, LFC_LIM)  # genes absent from a group: +-20
        y = -np.log10(np.clip(d["pvals_adj"].to_numpy(float), 1e-300, 1))
        sig = d["pvals_adj"].to_numpy(float) < alpha
        colour = np.where(sig & (x > 0), "tab:red", np.where(sig & (x < 0), "tab:blue", "0.7"))
        ax.scatter(x, y, c=colour, s=8, linewidths=0)
        for _, r in d[sig & (x > 0)].sort_values("scores", ascending=False).head(n_label).iterrows():
            ax.annotate(str(r["names"]), (min(r["logfoldchanges"], LFC_LIM), -np.log10(max(r["pvals_adj"], 1e-300))), fontsize=7)
        ax.set_xlabel("log2 fold change"), ax.set_ylabel("-log10 adj. p")
        ax.set_xlim(-LFC_LIM * 1.05, LFC_LIM * 1.05)
        ax.set_title(f"{g} vs rest")
    fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, path)


def plot_lfc_concordance(measured: pd.DataFrame, predicted: pd.DataFrame, conc: pd.DataFrame, path: Path) -> Path:
    """One panel per group: log2 fold change on measured (x) vs predicted (y) expression, r in the title;
    genes at scanpy's zero-mean floor on either side are left out, as in the r."""
    from madcell.analysis.concordance import comparable

    groups = [str(g) for g in conc["group"]][:MAX_PANELS]
    fig, axes = _grid(len(groups))
    for ax, g in zip(axes, groups):
        a = measured[measured["group"].astype(str) == g].set_index("names")["logfoldchanges"]
        b = predicted[predicted["group"].astype(str) == g].set_index("names")["logfoldchanges"]
        common = a.index.intersection(b.index)
        x, y = a[common].to_numpy(float), b[common].to_numpy(float)
        keep = comparable(x) & comparable(y)  # the genes the r in the title is computed on
        x, y = x[keep], y[keep]
        ax.scatter(x, y, s=8, linewidths=0)
        lim = np.nanmax(np.abs(np.r_[x, y, 1e-3]))
        ax.plot([-lim, lim], [-lim, lim], color="0.6", lw=0.8)
        r = conc.loc[conc["group"].astype(str) == g, "lfc_pearson"].iloc[0]
        ax.set_xlabel("log2 FC, measured"), ax.set_ylabel("log2 FC, predicted")
        ax.set_title(f"{g}: r = {r:.2f}")
    fig.suptitle("DE concordance: decoder-predicted vs measured expression")
    fig.tight_layout()
    return _save(fig, path)


def plot_values_on_tissue(xy: np.ndarray, values: pd.DataFrame, title: str, path: Path, cmap: str = "viridis") -> Path:
    """One tissue panel per column of ``values`` (at most MAX_PANELS), 1-99 % colour range each."""
    cols = list(values.columns)[:MAX_PANELS]
    fig, axes = _grid(len(cols), 3.8, 3.6)
    for ax, c in zip(axes, cols):
        v = values[c].to_numpy(float)
        lo, hi = np.nanpercentile(v, [1, 99])
        sc = ax.scatter(xy[:, 0], xy[:, 1], c=v, s=_point_size(len(v)), cmap=cmap, vmin=lo, vmax=max(hi, lo + 1e-9),
                        linewidths=0, rasterized=True)
        ax.set_aspect("equal"), ax.invert_yaxis(), ax.set_xticks([]), ax.set_yticks([])
        ax.set_title(str(c))
        fig.colorbar(sc, ax=ax, shrink=0.7)
    fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, path)


def plot_pseudotime(xy: np.ndarray, dpt_emb: np.ndarray, dpt_expr: np.ndarray | None, rho: float | None, path: Path) -> Path:
    """Left: embedding pseudotime on the tissue; right (with expression): it against expression pseudotime."""
    n = 2 if dpt_expr is not None else 1
    fig, axes = plt.subplots(1, n, figsize=(5.2 * n, 4.6), squeeze=False)
    ax = axes[0, 0]
    sc = ax.scatter(xy[:, 0], xy[:, 1], c=dpt_emb, s=_point_size(len(xy)), cmap="magma", linewidths=0, rasterized=True)
    ax.set_aspect("equal"), ax.invert_yaxis(), ax.set_xticks([]), ax.set_yticks([])
    ax.set_title("pseudotime (embedding)")
    fig.colorbar(sc, ax=ax, shrink=0.7)
    if dpt_expr is not None:
        ax = axes[0, 1]
        ax.scatter(dpt_expr, dpt_emb, s=_point_size(len(xy)), linewidths=0, rasterized=True)
        ax.set_xlabel("pseudotime, measured expression"), ax.set_ylabel("pseudotime, embedding")
        ax.set_title(f"Spearman rho = {rho:.2f}")
    fig.tight_layout()
    return _save(fig, path)


def _md_table(df: pd.DataFrame, n: int = 20, digits: int = 3) -> str:
    d = df.head(n)
    fmt = [[f"{v:.{digits}g}" if isinstance(v, float) else str(v) for v in row] for row in d.itertuples(index=False)]
    return "\n".join(["| " + " | ".join(map(str, d.columns)) + " |", "|" + "---|" * len(d.columns)]
                     + ["| " + " | ".join(r) + " |" for r in fmt])


def write_analysis(adata: ad.AnnData, result: dict, out_dir: str | Path) -> Path:
    """Tables, figures and ``analysis.md`` under ``out_dir``; returns the Markdown path."""
    out = Path(out_dir)
    figs = out / "figures"
    figs.mkdir(parents=True, exist_ok=True)
    s, t = result["summary"], result["tables"]
    for name, df in t.items():
        df.to_csv(out / f"{name}.csv", index=False)
    key, col = s["embedding_key"], s["cluster_column"]
    xy = np.asarray(adata.obsm["spatial"])
    md = ["## Analysis", "", f"{s['method'].capitalize()} clustering of `{key}` (resolution {s['resolution']}): "
          f"{s['n_clusters']} clusters (`obs['{col}']`); groups for DE: `{s['groupby']}`.", ""]
    plot_clusters(adata.obsm[f"X_umap_{key}"], xy, adata.obs[col].to_numpy(), col, figs / "clusters.png")
    md += ["![clusters](figures/clusters.png)", ""]
    if "de_measured" in t:
        plot_volcanos(t["de_measured"], "DE on measured expression", figs / "volcano_measured.png")
        md += ["### Differential expression", "", "![volcano, measured](figures/volcano_measured.png)", ""]
    if "de_concordance" in t:
        plot_volcanos(t["de_predicted"], "DE on decoder-predicted expression", figs / "volcano_predicted.png")
        plot_lfc_concordance(t["de_measured"], t["de_predicted"], t["de_concordance"], figs / "de_concordance.png")
        how = "in-sample" if s.get("de_predicted_in_sample") else "out-of-fold"
        c = t["de_concordance"]
        md += ["![volcano, predicted](figures/volcano_predicted.png)", "",
               f"Predicted vs measured DE ({s['de_space']} space, {how} predictions): median log-fold-change "
               f"r {np.nanmedian(c['lfc_pearson']):.3f} over {len(c)} groups; median Jaccard of significant "
               f"up-regulated genes {np.nanmedian(c['jaccard']):.3f}.", "", _md_table(c), "",
               "![DE concordance](figures/de_concordance.png)", ""]
    if "enrichment" in t:
        e = t["enrichment"].sort_values("pval_adj")
        md += ["### Gene-set over-representation (top genes of each group)", "", _md_table(e.drop(columns=["genes"]), 15), ""]
        if s.get("gene_set_scores"):
            plot_values_on_tissue(xy, adata.obs[s["gene_set_scores"]], "gene-set scores", figs / "gene_set_scores.png")
            md += ["![gene-set scores](figures/gene_set_scores.png)", ""]
        if s.get("gene_sets_skipped"):
            md += [f"Gene sets with < 2 measured genes, not scored: {', '.join(s['gene_sets_skipped'])}.", ""]
    if "pseudotime" in s:
        p = s["pseudotime"]
        expr = adata.obs[p["expression_column"]].to_numpy(float) if "expression_column" in p else None
        plot_pseudotime(xy, adata.obs[p["column"]].to_numpy(float), expr, p.get("spearman_vs_expression"),
                        figs / "pseudotime.png")
        md += ["### Diffusion pseudotime", "", f"Root: `{p['root']}`; {p['unreachable']} cells outside the root's "
               "graph component have none." + (
            f" Spearman rho with the pseudotime of measured expression: {p['spearman_vs_expression']:.3f}."
            if expr is not None else ""), "", "![pseudotime](figures/pseudotime.png)", ""]
    if s["skipped"]:
        md += ["Skipped: " + "; ".join(s["skipped"]) + ".", ""]
    path = out / "analysis.md"
    atomic_write_text(path, "\n".join(md))
    return path
