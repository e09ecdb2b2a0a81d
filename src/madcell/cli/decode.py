"""``madcell decode``: fit cell-label and gene-expression decoders on a frozen embedding and write
the predictions into a new AnnData (or apply a saved decoder folder with ``--from-decoders``)."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from madcell.cli.common import LABELS_HELP, add_labels, console, guarded


@guarded
def decode_cmd(
    emb: Path = typer.Argument(..., help="Embedding AnnData (.h5ad) written by `madcell embed` or a baseline."),
    out: Path = typer.Option(..., "--out", "-o", help="Output .h5ad with obs['pred_<label>'] and layers['pred_expression']."),
    label: Optional[List[str]] = typer.Option(None, "--label", "-l", help="obs column to decode (repeatable), e.g. cell_type."),
    genes: str = typer.Option("none", "--genes", help="Genes to decode: all, none, or a comma-separated list."),
    key: Optional[str] = typer.Option(None, "--key", help="obsm key of the embedding (default: uns['madcell']['embedding_key'])."),
    decoders_dir: Optional[Path] = typer.Option(None, "--decoders-dir", help="Folder to save the decoders in (default: <out stem>_decoders next to OUT)."),
    from_decoders: Optional[Path] = typer.Option(None, "--from-decoders", help="Apply the decoders saved in this folder instead of training."),
    labels_file: Optional[Path] = typer.Option(None, "--labels", help=LABELS_HELP),
    config: Optional[str] = typer.Option(None, "--config", "-c", help="Preset name or YAML file (default: default.yaml)."),
    set_: Optional[List[str]] = typer.Option(None, "--set", help="Config override section.key=value (repeatable), e.g. --set decode.balance=sample."),
) -> None:
    """Decode cell labels (class-balanced MLP) and genes (Smooth-L1 MLP regressor) from an embedding."""
    from madcell.config import load_config
    from madcell.decode import apply_decoders, decode_anndata, read_embedding
    from madcell.utils.paths import check_output

    check_output(out, [emb, from_decoders, labels_file])
    if decoders_dir is not None:
        check_output(decoders_dir, [emb], "--decoders-dir", folder=True)
    from madcell.embed.anndata_form import write_h5ad
    from madcell.errors import InputError

    cfg = load_config(config, set_ or None)
    adata = read_embedding(emb)
    add_labels(adata, labels_file)
    if from_decoders is not None:
        adata = apply_decoders(adata, from_decoders, key)
    else:
        if not label and genes.lower() == "none":
            raise InputError("--label/--genes", "nothing to decode: give --label COL and/or --genes all|LIST")
        folder = decoders_dir or out.with_name(out.stem + "_decoders")
        adata = decode_anndata(adata, label or [], genes, cfg, key, folder)
        console.print(f"decoders saved to {folder}", highlight=False)
        print_scores(adata.uns["madcell_decode"])
    write_h5ad(adata, out)
    console.print(f"predictions for {adata.n_obs} cells -> {out}", highlight=False)


def print_scores(info: dict) -> None:
    """The decoders' scores on the labelled cells, saying whether they are held-out or in-sample."""
    how = (f"held-out ({info['cross_fit']}-fold out-of-fold predictions)" if not info["in_sample"] else
           "IN-SAMPLE (decode.cross_fit < 2: the decoders were scored on their own training cells; these "
           "numbers flatter them)")
    console.print(f"scores, {how}:", highlight=False, markup=False)
    for col, d in info["labels"].items():
        sc = d["scores"]
        console.print(f"  {col}: accuracy {sc['accuracy']:.3f}, balanced accuracy {sc['balanced_accuracy']:.3f} "
                      f"({sc['n_cells']} labelled cells)", highlight=False, markup=False)
    if "gene_scores" in info:
        g = info["gene_scores"]
        console.print(f"  genes ({len(g['pearson'])}, {info['space']}): Pearson r mean {g['pearson_mean']:.3f}, "
                      f"median {g['pearson_median']:.3f}; MAE mean {g['mae_mean']:.3f}", highlight=False, markup=False)


def register(app: typer.Typer) -> None:
    app.command("decode")(decode_cmd)
