"""``madcell embed``: teacher backbone of a pretraining run -> per-cell embedding AnnData."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from madcell.cli.common import LABELS_HELP, console, guarded, report_labels
from madcell.errors import InputError


@guarded
def embed(
    store: Path = typer.Argument(..., help="View store (.h5) written by `madcell prepare`."),
    run: Path = typer.Option(..., "--run", "--model", help="Pretraining run folder (or its export/ folder). Under torchrun write --model: torchrun takes --run for its own --run-path."),
    out: Path = typer.Option(..., "--out", help="Output AnnData (.h5ad)."),
    key: str = typer.Option("X_mad", help="obsm key of the embedding (parts go to KEY_morph / KEY_micro)."),
    method: str = typer.Option("mad", help="Method name recorded in uns['madcell']."),
    batch_size: int = typer.Option(256, help="Cells per forward pass."),
    chunk_cells: int = typer.Option(8192, help="Cells per resumable chunk."),
    device: str = typer.Option("auto", help="auto | cpu | cuda | cuda:N."),
    precision: str = typer.Option("auto", help="auto (bf16 on GPU, fp32 on CPU) | fp32 | bf16."),
    labels_file: Optional[Path] = typer.Option(None, "--labels", help=LABELS_HELP),
) -> None:
    """Embed every cell: concat of the teacher CLS tokens of the morphology and microenvironment views."""
    from madcell.data.source import open_views
    from madcell.embed import embed_store
    from madcell.models import Encoder
    from madcell.utils.paths import check_output

    check_output(out, [store, run, labels_file])
    for name, v in (("--batch-size", batch_size), ("--chunk-cells", chunk_cells)):
        if v < 1:
            raise InputError(name, f"must be at least 1, got {v}")
    if precision not in ("auto", "fp32", "bf16"):
        raise InputError("--precision", f"must be auto, fp32 or bf16, got {precision!r}")

    if not run.exists():
        raise InputError(run, "run folder does not exist")
    vs = open_views(store)
    encoder = Encoder.load(run)
    if list(encoder.channel_names) != list(vs.channel_names) and len(encoder.channel_names) != vs.n_channels:
        raise InputError(store, f"has {vs.n_channels} channels but the model in {run} was trained on "
                                f"{len(encoder.channel_names)} ({', '.join(encoder.channel_names)})")
    adata = embed_store(vs, encoder, out, method=method, key=key, batch_size=batch_size,
                        chunk_cells=chunk_cells, device=device, precision=precision,
                        info={"run": str(run.resolve())}, labels=labels_file)
    if adata is None:  # another rank of a sharded (torchrun) embedding: rank 0 wrote the file
        return
    if labels_file is not None:
        report_labels(labels_file, adata.uns["madcell"]["labels"])
    console.print(f"wrote {out}: {adata.n_obs} cells x {adata.obsm[key].shape[1]} dims ({key})")


def register(app: typer.Typer) -> None:
    app.command("embed")(embed)
