"""``madcell export``: an embedding .h5ad -> a SpatialData zarr (napari-spatialdata, scverse)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from madcell.cli.common import console, guarded


@guarded
def export(
    emb: Path = typer.Argument(..., help="Embedding AnnData (.h5ad) of madcell embed / decode / niche / analyze."),
    spatialdata: Optional[Path] = typer.Option(None, "--spatialdata", help="New SpatialData zarr to write: image pyramid, cell mask and the table, per slide."),
    into: Optional[Path] = typer.Option(None, "--into", help="Existing SpatialData zarr the cells were prepared from: add the table annotating its cell element."),
    image: bool = typer.Option(True, "--image/--no-image", help="--spatialdata: read the slide image and mask again from the prepared input (default); --no-image writes the cells as circles."),
    table: str = typer.Option("madcell", "--table", help="Name of the table element."),
    cluster: bool = typer.Option(True, "--cluster/--no-cluster", help="Add a Leiden clustering of the embedding when the AnnData has none."),
) -> None:
    """Embeddings, predicted labels and genes, niches and clusters as a SpatialData table over the cells."""
    import anndata as ad

    from madcell.errors import InputError
    from madcell.export import export_spatialdata
    from madcell.io.spatialdata import require_spatialdata
    from madcell.utils.paths import check_output

    if (spatialdata is None) == (into is None):
        raise InputError("--spatialdata/--into", "give exactly one of --spatialdata OUT.zarr or --into EXISTING.zarr")
    if not emb.is_file():
        raise InputError(emb, "embedding file does not exist")
    if into is not None and not into.is_dir():
        raise InputError(into, "--into must be an existing SpatialData zarr folder")
    if spatialdata is not None:
        check_output(spatialdata, [emb], "--spatialdata", folder=True)
        if spatialdata.exists():
            raise InputError(spatialdata, "already exists; give a new path (nothing is overwritten)")
    require_spatialdata(spatialdata or into)
    try:
        adata = ad.read_h5ad(emb)
    except Exception as exc:
        raise InputError(emb, f"cannot read the AnnData ({type(exc).__name__}: {exc})") from None
    path = export_spatialdata(adata, out=spatialdata, into=into, image=image, table_name=table, cluster=cluster,
                              progress=lambda m: console.print(m))
    console.print(f"wrote table {table!r} ({adata.n_obs} cells) to {path}")


def register(app: typer.Typer) -> None:
    app.command("export")(export)
