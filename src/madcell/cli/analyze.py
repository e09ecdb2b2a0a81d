"""``madcell analyze``: clusters, UMAP, DE (measured and predicted), gene sets and pseudotime of an embedding."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from madcell.cli.common import LABELS_HELP, add_labels, console, guarded


@guarded
def analyze_cmd(
    emb: Path = typer.Argument(..., help="Embedding AnnData (.h5ad) from `madcell embed`, or `madcell decode`'s output (adds predicted-vs-measured DE)."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder: analysis.h5ad, analysis.md, *.csv tables, figures/."),
    key: Optional[str] = typer.Option(None, "--key", help="obsm key of the embedding (default: uns['madcell']['embedding_key'])."),
    method: str = typer.Option("leiden", "--method", help="Clustering: leiden | louvain."),
    resolution: float = typer.Option(1.0, "--resolution", help="Clustering resolution (honoured by both methods)."),
    groupby: Optional[str] = typer.Option(None, "--groupby", help="obs column whose groups DE compares (default: the clusters)."),
    gmt: Optional[Path] = typer.Option(None, "--gmt", help="Gene sets (GMT file) for over-representation and per-cell scores; nothing is downloaded."),
    root: Optional[str] = typer.Option(None, "--root", help="Pseudotime root: COLUMN=VALUE (that group's most central cell) or a cell id."),
    top_n: int = typer.Option(50, "--top-n", help="Top DE genes per group tested for gene-set over-representation."),
    seed: int = typer.Option(0, "--seed"),
    labels_file: Optional[Path] = typer.Option(None, "--labels", help=LABELS_HELP),
) -> None:
    """The paper's downstream analysis on one embedding, AnnData in and AnnData out."""
    from madcell.analysis.genesets import read_gmt
    from madcell.analysis.pipeline import run_analysis
    from madcell.decode import read_embedding
    from madcell.embed.anndata_form import write_h5ad
    from madcell.errors import InputError
    from madcell.report.analysis import write_analysis
    from madcell.utils.paths import check_output

    check_output(out, [emb, gmt, labels_file], folder=True)
    if method not in ("leiden", "louvain"):
        raise InputError("--method", f"must be leiden or louvain, got {method!r}")
    if resolution <= 0:
        raise InputError("--resolution", f"must be > 0, got {resolution}")
    gene_sets = read_gmt(gmt) if gmt is not None else None
    adata = read_embedding(emb)
    add_labels(adata, labels_file)

    def log(msg: str) -> None:
        console.print(msg, highlight=False, markup=False)

    result = run_analysis(adata, key, method, resolution, groupby, gene_sets, root, top_n, seed, log)
    out.mkdir(parents=True, exist_ok=True)
    md = write_analysis(adata, result, out)
    write_h5ad(adata, out / "analysis.h5ad")
    s = result["summary"]
    log(f"{s['n_clusters']} clusters in obs['{s['cluster_column']}'] -> {out / 'analysis.h5ad'}; report {md}")
    if "de_concordance" in result["tables"]:
        c = result["tables"]["de_concordance"]
        log(f"predicted vs measured DE: median log-fold-change r {c['lfc_pearson'].median():.3f}, "
            f"median Jaccard of significant genes {c['jaccard'].median():.3f} over {len(c)} groups")
    if "pseudotime" in s and "spearman_vs_expression" in s["pseudotime"]:
        log(f"pseudotime: Spearman rho with expression pseudotime {s['pseudotime']['spearman_vs_expression']:.3f}")
    for msg in s["skipped"]:
        log(f"skipped: {msg}")


def register(app: typer.Typer) -> None:
    app.command("analyze")(analyze_cmd)
