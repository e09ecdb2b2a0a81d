"""``madcell prepare``: an input folder (or manifest) -> one view store of per-cell views."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from madcell.cli.common import console, guarded


@guarded
def prepare(
    input: Path = typer.Argument(..., help="Input folder (generic, Xenium, CosMx, MERSCOPE, SpatialData .zarr) or a YAML manifest of several."),
    out: Path = typer.Option(..., "--out", help="Output view store (.h5); written atomically."),
    format: str = typer.Option("auto", "--format", help="auto | generic | xenium | cosmx | merscope | spatialdata (a SpatialData .zarr; needs madcell[spatialdata])."),
    config: Optional[Path] = typer.Option(None, "--config", help="Config preset name or YAML file (its prepare section is used)."),
    set_: Optional[List[str]] = typer.Option(None, "--set", help="Override a config key, e.g. --set prepare.micro_size=112 (repeatable)."),
    option: Optional[List[str]] = typer.Option(None, "--option", help="Reader option key=value (repeatable; YAML values), e.g. --option pixel_size_um=1.7 --option 'origin_um=[995.5, 998.9]'."),
    labels: Optional[Path] = typer.Option(None, "--labels", help="CSV/TSV/parquet with a cell_id column and label columns (joined onto the cells; ids matching no cell are counted)."),
    views: Optional[str] = typer.Option(None, "--views", help="materialised (both views of every cell stored) | lazy (the normalised slide + per-cell geometry; views cut on read, ~1/10 of the bytes). Default: prepare.views of the config."),
    workers: Optional[int] = typer.Option(None, "--workers", help="Worker processes (default: prepare.workers of the config)."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
) -> None:
    """Per-cell morphology (cell alone) and microenvironment (cell + ~K neighbours) views -> one HDF5 store."""
    from madcell.data.store import ViewStore
    from madcell.utils.paths import check_output
    from madcell.views import prepare as run_prepare

    check_output(out, [input, labels])

    if workers is not None and workers < 1:
        from madcell.errors import InputError

        raise InputError("--workers", f"must be >= 1, got {workers}")
    from madcell.config import parse_overrides

    overrides = list(set_ or []) + ([f"prepare.views={views}"] if views is not None else [])
    path = run_prepare(input, out, format=format, config=config, overrides=overrides or None, workers=workers,
                       progress=progress, reader_options=parse_overrides(option or []) or None, labels=labels)
    import os

    if os.environ.get("RANK", "0") != "0":  # under torchrun only rank 0 wrote the store
        return
    with ViewStore(path) as vs:
        console.print(f"wrote {path} ({vs.params.get('views', 'materialised')} views): {vs.n_cells} cells, {vs.n_channels} channels "
                      f"({', '.join(vs.channel_names)}), views {vs.morph_size} / {vs.micro_size} px; "
                      f"label columns: {', '.join(vs.label_columns) or 'none'}")


def register(app: typer.Typer) -> None:
    app.command("prepare")(prepare)
