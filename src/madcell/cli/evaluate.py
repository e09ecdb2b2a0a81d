"""``madcell evaluate``: every metric family on an embedding AnnData, each with a 95 % bootstrap CI."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from madcell.cli.common import LABELS_HELP, add_labels, console, guarded


@guarded
def evaluate_cmd(
    emb: Path = typer.Argument(..., help="Embedding AnnData (.h5ad) written by `madcell embed` or a baseline."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder: metrics.json, metrics.csv, per_gene.csv."),
    label: Optional[List[str]] = typer.Option(None, "--label", "-l", help="obs label column to score (repeatable), e.g. cell_type."),
    genes: str = typer.Option("all", "--genes", help="Genes for decoding/CCA/heterogeneity: all, none, or a comma-separated list."),
    key: Optional[str] = typer.Option(None, "--key", help="obsm key of the embedding (default: uns['madcell']['embedding_key'])."),
    config: Optional[str] = typer.Option(None, "--config", "-c", help="Preset name or YAML file (default: default.yaml)."),
    set_: Optional[List[str]] = typer.Option(None, "--set", help="Config override section.key=value (repeatable), e.g. --set evaluate.bootstrap=200."),
    within: Optional[str] = typer.Option(None, "--within", help="Also score every --label (except this column) inside each group of this obs column, e.g. cell_type."),
    labels_file: Optional[Path] = typer.Option(None, "--labels", help=LABELS_HELP),
    within_classes: Optional[str] = typer.Option(None, "--within-classes", help="With --within: also score restricted to these classes (comma-separated), e.g. macrophage_TAM,macrophage_stromal."),
) -> None:
    """Clustering (k-means/Leiden ARI, NMI, purity), kNN/linear/MLP probes, cross-view Recall@K, gene
    decoding (per-gene Pearson, MAE), CCA against expression and patch heterogeneity; with --within, the
    kNN/linear probes of each label inside each group of another column (per group and their mean)."""
    from madcell.config import load_config
    from madcell.decode import read_embedding
    from madcell.utils.paths import check_output

    check_output(out, [emb, labels_file], folder=True)
    from madcell.evaluate import evaluate_anndata, write_metrics
    from madcell.report.tables import format_metric_table

    cfg = load_config(config, set_ or None)
    adata = read_embedding(emb)
    add_labels(adata, labels_file)
    labels = label or []
    groups = {lab: within for lab in labels if within and lab != within}
    classes = [c.strip() for c in within_classes.split(",") if c.strip()] if within_classes else None
    res = evaluate_anndata(adata, labels, genes, cfg, key, within=groups,
                           within_classes={lab: classes for lab in groups} if classes else None)
    res["embedding_path"] = str(emb.resolve())  # so `madcell report OUT` finds the AnnData for UMAP and maps
    path = write_metrics(res, out)
    console.print(format_metric_table({res["method"]: res}), highlight=False, markup=False)
    console.print(f"{res['timing_s']['total']:.1f} s -> {path}", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("evaluate")(evaluate_cmd)
