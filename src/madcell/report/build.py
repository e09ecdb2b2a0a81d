"""``build_report``: one Markdown (or HTML) page comparing methods, with PNG figures next to it.

Sections: metric tables (mean [95 % CI]), UMAPs coloured by each label, per-gene decoding bars and a
method-vs-method per-gene scatter, spatial maps (tissue coordinates) of measured vs predicted genes
and true vs predicted labels, and training curves from ``metrics.csv`` logs. Spatial maps use the
AnnData's decode predictions when present; otherwise decoders are fit with out-of-fold cross-fitting
(``decode.cross_fit`` = evaluate's ``n_folds``) so the maps never show in-sample fits.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import anndata as ad
import numpy as np
import pandas as pd

from madcell.report import figures
from madcell.report.curves import plot_training_curves
from madcell.report.html import markdown_to_html
from madcell.report.tables import format_metric_table
from madcell.utils.atomic import atomic_write_text


def _load(entry: Mapping) -> tuple[ad.AnnData | None, dict]:
    from madcell.decode import read_embedding
    from madcell.evaluate import read_metrics

    a = entry.get("adata")
    a = read_embedding(a) if isinstance(a, (str, Path)) else a
    m = entry.get("metrics") or {}
    m = read_metrics(m) if isinstance(m, (str, Path)) else m
    return a, m


def _per_gene(metrics: Mapping) -> pd.DataFrame | None:
    from madcell.evaluate.output import per_gene_table

    return per_gene_table(dict(metrics))


def _ensure_predictions(a: ad.AnnData, labels: Sequence[str], genes: Sequence[str], cfg: Mapping) -> ad.AnnData:
    from madcell.config import merge
    from madcell.decode import decode_anndata

    need_labels = [lab for lab in labels if f"pred_{lab}" not in a.obs and lab in a.obs]
    have = a.uns.get("madcell_decode", {}).get("genes", []) if "pred_expression" in a.layers else []
    need_genes = [g for g in genes if g not in have]
    if not need_labels and not need_genes:
        return a
    b = a.copy()
    c = merge(cfg, {"decode": {"cross_fit": max(2, int(cfg["evaluate"]["n_folds"]))}})
    decode_anndata(b, need_labels, list(genes) if need_genes else None, c)
    for lab in need_labels:
        a.obs[f"pred_{lab}"] = b.obs[f"pred_{lab}"]
    if need_genes:
        a.layers["pred_expression"] = b.layers["pred_expression"]
        a.uns["madcell_decode"] = b.uns["madcell_decode"]
    return a


def build_report(
    methods: Mapping[str, Mapping],
    out_dir: str | Path,
    labels: Sequence[str],
    genes: Sequence[str] | None = None,
    training_logs: Mapping[str, str | Path] | None = None,
    fmt: str = "md",
    cfg: Mapping | None = None,
    spatial_methods: Sequence[str] | None = None,
    n_spatial_genes: int = 3,
) -> Path:
    """``methods``: {name: {"adata": .h5ad path or AnnData, "metrics": evaluate result or metrics.json}}.
    ``genes``: genes for the spatial maps (default: the best-decoded ones). Returns report.md/.html."""
    from madcell.analysis import umap
    from madcell.config import load_config
    from madcell.decode.anndata_decode import embedding_of
    from madcell.decode.transforms import transform_expression, transform_label

    if fmt not in ("md", "html"):
        raise ValueError("fmt must be md or html")
    cfg = load_config() if cfg is None else cfg
    out = Path(out_dir)
    fig_dir = out / "figures"
    fig_dir.mkdir(parents=True, exist_ok=True)
    loaded = {name: _load(entry) for name, entry in methods.items()}
    results = {name: m for name, (_, m) in loaded.items() if m}
    md = ["# madcell report", "", f"Methods: {', '.join(methods)}. Labels: {', '.join(labels) or '–'}.", ""]
    if results:
        md += ["## Metrics", "", format_metric_table(results, labels), ""]
        split = next(iter(results.values())).get("split", {})
        md += [f"Probes use {split.get('kind', '?')} folds ({split.get('n_folds', '?')} folds x seeds "
               f"{split.get('seeds', '?')}); intervals are stratified bootstrap 95 % CIs over held-out cells.", ""]
    # UMAPs
    coords, obs = {}, {}
    for name, (a, _) in loaded.items():
        if a is None:
            continue
        X, key = embedding_of(a)
        if f"X_umap_{key}" not in a.obsm:
            umap(a, key)
        coords[name], obs[name] = np.asarray(a.obsm[f"X_umap_{key}"]), a.obs
    umap_labels = [lab for lab in labels if all(lab in o for o in obs.values())]
    clustered = False
    if coords and not umap_labels:  # no labels (the usual case on a new slide): the embedding's own clusters
        from madcell.analysis import cluster

        for name, (a, _) in loaded.items():
            if a is not None:
                _, key = embedding_of(a)
                if f"leiden_{key}" not in a.obs:
                    cluster(a, key)
                obs[name] = a.obs.assign(clusters=a.obs[f"leiden_{key}"].astype(str))
        umap_labels, clustered = ["clusters"], True
    if coords and umap_labels:
        figures.plot_umaps(coords, obs, umap_labels, fig_dir / "umap.png")
        md += ["## UMAP of each embedding", "", "![UMAP](figures/umap.png)", ""]
        if clustered:
            md += ["No label column was given: colours are Leiden clusters of each embedding (resolution 1).", ""]
    # per-gene decoding
    per_gene = {n: d for n, m in results.items() if (d := _per_gene(m)) is not None}
    if per_gene:
        md += ["## Gene decoding (held-out cells)", ""]
        figures.plot_per_gene_bars(per_gene, fig_dir / "per_gene_pearson.png")
        md += ["![per-gene Pearson](figures/per_gene_pearson.png)", ""]
        names = list(per_gene)
        for other in names[1:]:
            fname = f"gene_scatter_{_slug(names[0])}_vs_{_slug(other)}.png"
            figures.plot_gene_scatter(per_gene[names[0]], per_gene[other], names[0], other, fig_dir / fname)
            md += [f"![{names[0]} vs {other}](figures/{fname})", ""]
    # spatial maps
    spatial_methods = list(spatial_methods) if spatial_methods is not None else [n for n in loaded if loaded[n][0] is not None][:1]
    for name in spatial_methods:
        a = loaded[name][0]
        if a is None or "spatial" not in a.obsm:
            continue
        show = list(genes) if genes else (per_gene[name].sort_values("pearson", ascending=False)["gene"].head(n_spatial_genes).tolist()
                                          if name in per_gene else list(map(str, a.var_names[:n_spatial_genes])))
        show = [g for g in show if g in a.var_names][:n_spatial_genes]
        a = _ensure_predictions(a, [lab for lab in labels if lab in a.obs], show, cfg)
        slide = a.obs["slide"].astype(str).to_numpy() if "slide" in a.obs else np.zeros(a.n_obs, str)
        first = slide == slide[0]
        xy = np.asarray(a.obsm["spatial"])[first]
        md += [f"## Spatial maps — {name} (slide {slide[0]})", ""]
        if show:
            cols = a.var_names.get_indexer(show)
            tf = a.uns.get("madcell_decode", {}).get("transform", cfg["decode"]["gene_transform"])
            meas = transform_expression(a.X[first], tf, cols)
            pred = np.asarray(a.layers["pred_expression"])[first][:, cols]
            fname = f"spatial_genes_{_slug(name)}.png"
            figures.plot_spatial_genes(xy, meas, pred, show, transform_label(tf), f"{name}: measured vs predicted", fig_dir / fname)
            md += [f"![spatial genes](figures/{fname})", ""]
        for lab in labels:
            if lab in a.obs and f"pred_{lab}" in a.obs:
                fname = f"spatial_{_slug(lab)}_{_slug(name)}.png"
                figures.plot_spatial_labels(xy, a.obs[lab].astype(str).to_numpy()[first],
                                            a.obs[f"pred_{lab}"].astype(str).to_numpy()[first], lab, name, fig_dir / fname)
                md += [f"![spatial {lab}](figures/{fname})", ""]
        if clustered:
            from madcell.report.analysis import plot_clusters

            fname = f"spatial_clusters_{_slug(name)}.png"
            plot_clusters(coords[name][first], xy, obs[name]["clusters"].to_numpy()[first], f"{name} clusters", fig_dir / fname)
            md += [f"![spatial clusters](figures/{fname})", ""]
        in_sample = a.uns.get("madcell_decode", {}).get("in_sample", False)
        md += ["Predictions are " + ("in-sample fits (decoded without cross-fitting)." if in_sample
                                     else "out-of-fold (each cell predicted by decoders that never saw it)."), ""]
    # training curves
    if training_logs:
        logs = {n: pd.read_csv(p) for n, p in training_logs.items() if Path(p).exists()}
        if logs and plot_training_curves(logs, fig_dir / "training_curves.png") is not None:
            md += ["## Training curves", "", "![training curves](figures/training_curves.png)", ""]
    text = "\n".join(md)
    target = out / ("report.md" if fmt == "md" else "report.html")
    atomic_write_text(target, text if fmt == "md" else markdown_to_html(text, "madcell report"))
    if fmt == "html":
        atomic_write_text(out / "report.md", text)
    return target


def _slug(s: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "_" for ch in str(s))
