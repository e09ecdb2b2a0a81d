"""``madcell niche``: distil expression-defined tissue niches into an image-only student.

Reads an embedding AnnData (``madcell embed`` or any encoder in the same form, with expression in
``X`` or a cell-type column), holds out spatial blocks, fits the composition teacher on the rest,
trains the student on image embeddings + positions, and scores student and clustering baselines
against the teacher on the held-out blocks.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from madcell.cli.common import LABELS_HELP, add_labels, console, guarded


def _overrides(items: list[str]) -> list[str]:
    """``--set k=v`` means ``niche.k=v`` unless the key already names a config section."""
    from madcell.config import default_config

    sections = set(default_config())
    return [s if s.split("=", 1)[0].split(".")[0] in sections else f"niche.{s}" for s in items]


@guarded
def niche(
    emb: Path = typer.Argument(..., help="Embedding AnnData (.h5ad): the embedding named by uns['madcell']['embedding_key'], obsm['spatial'] (µm), obs['slide']."),
    out: Path = typer.Option(..., "--out", help="Output folder: niche.h5ad, niche_metrics.json, niche_maps.png, niche.md."),
    cell_type_col: Optional[str] = typer.Option(None, "--cell-type-col", help="obs column with cell types (default: Leiden on the expression in X, fitted on training cells)."),
    k_niches: Optional[int] = typer.Option(None, "--k-niches", help="Number of teacher niches K (default 8, niche.k_niches)."),
    graph: Optional[str] = typer.Option(None, "--graph", help="Spatial graph: knn | radius | delaunay (default knn)."),
    student: Optional[str] = typer.Option(None, "--student", help="Student: transformer (neighbourhood tokens) | mlp (cell + neighbour mean)."),
    labels_file: Optional[Path] = typer.Option(None, "--labels", help=LABELS_HELP + " E.g. cell types for --cell-type-col."),
    seed: Optional[int] = typer.Option(None, "--seed", help="Seed of the held-out blocks, teacher, student and baselines (default 0)."),
    config: Optional[Path] = typer.Option(None, "--config", help="Config preset name or YAML file (its niche section is used)."),
    set_: Optional[List[str]] = typer.Option(None, "--set", help="Override a niche key, e.g. --set k_auto=true or --set niche.hops=2 (repeatable)."),
) -> None:
    """Teacher niches from expression -> image-only student -> held-out ARI/NMI/AMI vs baselines."""
    import anndata as ad

    from madcell.config import load_config
    from madcell.errors import InputError
    from madcell.niche import run_niche
    from madcell.utils.paths import check_output

    check_output(out, [emb, labels_file], folder=True)

    if not emb.exists():
        raise InputError(emb, "does not exist")
    cli = {"cell_type_col": cell_type_col, "k_niches": k_niches, "graph": graph, "student": student, "seed": seed}
    cli = {k: v for k, v in cli.items() if v is not None}
    if k_niches is not None and k_niches < 2:
        raise InputError("--k-niches", f"must be at least 2, got {k_niches}")
    if graph is not None and graph not in ("knn", "radius", "delaunay"):
        raise InputError("--graph", f"must be knn, radius or delaunay, got {graph!r}")
    if student is not None and student not in ("transformer", "mlp"):
        raise InputError("--student", f"must be transformer or mlp, got {student!r}")
    cfg = load_config(config, _overrides(set_ or []))
    cfg["niche"].update(cli)
    try:
        adata = ad.read_h5ad(emb)
    except Exception as exc:  # noqa: BLE001 - any read failure is a bad input file
        raise InputError(emb, f"is not a readable .h5ad file ({exc})") from exc
    add_labels(adata, labels_file)
    _, m = run_niche(adata, cfg, out_dir=out)
    console.print(f"wrote {out}/niche.h5ad, niche_metrics.json, niche_maps.png, niche.md "
                  f"(K = {m['k_niches']}, {m['n_heldout']} held-out cells)")
    for name, r in m["methods"].items():
        console.print(f"  {name:8s} held-out ARI {r['ari']['value']:.3f} [{r['ari']['lo']:.3f}, {r['ari']['hi']:.3f}]  "
                      f"NMI {r['nmi']['value']:.3f}  AMI {r['ami']['value']:.3f}")


def register(app: typer.Typer) -> None:
    app.command("niche")(niche)
