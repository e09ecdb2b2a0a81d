"""Writing a niche run: ``niche.h5ad``, ``niche_metrics.json``, ``niche_maps.png``, ``niche.md``.

Every file goes through :func:`madcell.utils.atomic.atomic_path`, so a killed run leaves no
complete-looking output. The Markdown summary restates the setting (cell-type source, graph, K,
split sizes) next to the held-out scores, so a table is never read without its conditions.
"""

from __future__ import annotations

import json
from pathlib import Path

import anndata as ad
import numpy as np

from madcell.embed.anndata_form import write_h5ad
from madcell.niche.plots import niche_maps
from madcell.report.tables import fmt_ci
from madcell.utils.atomic import atomic_write_text

LABELS = {
    "student": "student (distilled)",
    "kmeans": "k-means on features",
    "gmm": "GMM on features",
    "nbr_gmm": "GMM on neighbour-averaged features",
}


def markdown(metrics: dict) -> str:
    c = metrics["config"]
    lines = [
        "# Niche distillation (madcell niche)",
        "",
        f"- cells: {metrics['n_cells']} in {metrics['n_slides']} slide(s); train {metrics['n_train']}, "
        f"validation {metrics['n_val']}, held-out {metrics['n_heldout']} (spatial blocks, "
        f"{c['blocks_per_axis']}×{c['blocks_per_axis']} grid per slide, seed {c['seed']})",
        f"- image features: `obsm['{metrics['embedding_key']}']`; positions in {metrics['spatial_unit']}",
        f"- cell types: {metrics['cell_types']['source']}; {len(metrics['cell_types']['counts'])} types",
        f"- graph: {metrics['graph']['method']} (mean degree {metrics['graph']['mean_degree']:.1f}), "
        f"{c['hops']}-hop composition; teacher: {c['teacher']} with K = {metrics['k_niches']}",
        f"- student: {metrics['student']['kind']}, {metrics['student']['epochs']} epochs "
        f"(best {metrics['student']['best_epoch']}), T = {c['temperature']}, device {metrics['student']['device']}",
        "",
        f"Agreement with the teacher's niches on held-out cells ({int(c['ci'] * 100)} % bootstrap CI, "
        f"{c['bootstrap']} resamples of held-out cells); JS = mean Jensen–Shannon divergence (bits) between the "
        "cell-type composition of each predicted niche and its Hungarian-matched teacher niche (lower is better).",
        "",
        "| method | ARI | NMI | AMI | composition JS |",
        "|---|---|---|---|---|",
    ]
    for name, r in metrics["methods"].items():
        lines.append(
            f"| {LABELS.get(name, name)} | {fmt_ci(r['ari'])} | {fmt_ci(r['nmi'])} | {fmt_ci(r['ami'])} | "
            f"{r['composition_js']['mean_js']:.3f} |"
        )
    lines += ["", "Maps: `niche_maps.png`. Per-cell labels and soft assignments: `niche.h5ad`.", ""]
    return "\n".join(lines)


def write_outputs(adata: ad.AnnData, metrics: dict, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    write_h5ad(adata, out_dir / "niche.h5ad")
    atomic_write_text(out_dir / "niche_metrics.json", json.dumps(metrics, indent=2))
    held = adata.obs["niche_heldout"].to_numpy(dtype=bool)
    labels = {"teacher": adata.obs["teacher_niche"].astype(int).to_numpy()}
    titles = {"teacher": "teacher (expression)"}
    for name, r in metrics["methods"].items():
        labels[name] = adata.obs[f"{name}_niche"].astype(int).to_numpy()
        titles[name] = f"{LABELS.get(name, name)}\nheld-out ARI {r['ari']['value']:.2f}"
    slides = adata.obs["slide"].astype(str).to_numpy() if "slide" in adata.obs else np.full(adata.n_obs, "0")
    niche_maps(np.asarray(adata.obsm["spatial"]), slides, labels, held, out_dir / "niche_maps.png", titles)
    atomic_write_text(out_dir / "niche.md", markdown(metrics))
