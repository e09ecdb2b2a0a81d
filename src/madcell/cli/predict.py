"""``madcell predict``: expression, labels and niches for an image-only slide from saved models."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from madcell.cli.common import console, guarded


@guarded
def predict_cmd(
    inp: Path = typer.Argument(..., help="View store (.h5, needs --run) or an embedding AnnData (.h5ad) of the new slide."),
    decoders: Path = typer.Option(..., "--decoders", help="Decoder folder written by `madcell decode` (index.json)."),
    out: Path = typer.Option(..., "--out", "-o", help="Output AnnData: X = predicted expression, obs = predicted labels / niches."),
    run: Optional[Path] = typer.Option(None, "--run", help="Pretraining run (or export) to embed a store with: the one the decoders were fit on."),
    niche_student: Optional[Path] = typer.Option(None, "--niche-student", help="Saved niche student (`madcell niche` writes OUT/student)."),
    key: Optional[str] = typer.Option(None, "--key", help="obsm key of the embedding (default: the decoders')."),
) -> None:
    """Embed (for a store), apply the decoders and the niche student, write one AnnData of predictions.
    When the slide also has measured expression (a held-out check) the per-gene Pearson r is printed."""
    from madcell.decode import read_embedding
    from madcell.embed.anndata_form import write_h5ad
    from madcell.errors import InputError
    from madcell.predict import predict_anndata
    from madcell.utils.paths import check_output

    check_output(out, [inp, decoders, run, niche_student])
    if inp.suffix == ".h5ad":
        emb = read_embedding(inp)
    else:
        if run is None:
            raise InputError(inp, "is a view store: give --run (the pretraining run the decoders were fit on) to embed it")
        from madcell.data.source import open_views
        from madcell.embed import embed_store
        from madcell.models import Encoder

        emb_path = out.with_name(out.stem + "_embedding.h5ad")
        emb = embed_store(open_views(inp), Encoder.load(run), emb_path, info={"run": str(run.resolve())})
        console.print(f"embedding -> {emb_path}", highlight=False)
    pred = predict_anndata(emb, decoders, niche_student, key)
    write_h5ad(pred, out)
    meta = pred.uns["madcell_predict"]
    what = [f"{pred.n_vars} genes ({meta['space']})"] + [f"pred_{lab}" for lab in meta["labels"]]
    if niche_student is not None:
        what.append("student_niche")
    console.print(f"predictions for {pred.n_obs} cells: {', '.join(what)} -> {out}", highlight=False, markup=False)
    if "scores" in meta:
        import numpy as np

        r = np.asarray(meta["scores"]["pearson"])
        q = np.nanpercentile(r, [10, 25, 50, 75, 90])
        console.print(f"against the measured expression of these cells: per-gene Pearson r mean {np.nanmean(r):.3f}; "
                      f"10/25/50/75/90 % {' / '.join(f'{v:.3f}' for v in q)}; MAE mean {meta['scores']['mae_mean']:.3f}",
                      highlight=False, markup=False)


def register(app: typer.Typer) -> None:
    app.command("predict")(predict_cmd)
