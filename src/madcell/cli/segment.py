"""``madcell segment``: nuclei and approximate cells of an image without masks -> a folder for ``prepare``."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from madcell.cli.common import console, guarded


@guarded
def segment(
    image: Path = typer.Argument(..., help="Image file: OME-TIFF/TIFF, PNG or JPEG (H&E RGB or multichannel fluorescence)."),
    out: Path = typer.Option(..., "--out", help="Output folder: labels.tif (cells), nuclei.tif, cells.csv, segment.json and a link to the image."),
    modality: str = typer.Option("auto", "--modality", help="auto | he | fluorescence (auto: he for 3-channel uint8 images)."),
    channel: Optional[str] = typer.Option(None, "--channel", help="Nuclear channel (name or index) of a fluorescence image (default: the one named DAPI, Hoechst, nucleus, ...)."),
    pixel_size_um: Optional[float] = typer.Option(None, "--pixel-size-um", help="µm per pixel (default: from the image metadata)."),
    nucleus_diameter_um: float = typer.Option(8.0, "--nucleus-diameter-um", help="Typical nucleus diameter in µm."),
    expand_um: float = typer.Option(3.0, "--expand-um", help="Cells = nuclei grown by up to this many µm (never into a neighbour); 0 = nuclei only."),
    tile_size: int = typer.Option(2048, "--tile-size", help="Tile side in pixels (memory grows with it; the result does not)."),
    method: str = typer.Option("skimage", "--method", help="skimage (threshold + watershed) | stardist | cellpose (these two need --model)."),
    model: Optional[Path] = typer.Option(None, "--model", help="Local StarDist model folder or Cellpose model file (never downloaded)."),
    cells_table: bool = typer.Option(True, "--cells-table/--no-cells-table", help="Also write cells.csv (cell_id, label, centroid)."),
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show progress."),
) -> None:
    """Segment nuclei (H&E haematoxylin or a DAPI channel), expand them into cells, tile by tile."""
    from madcell.segment import segment as run_segment
    from madcell.utils.paths import check_output

    check_output(out, [image], folder=True)
    s = run_segment(image, out, modality=modality, channel=channel, pixel_size_um=pixel_size_um,
                    nucleus_diameter_um=nucleus_diameter_um, expand_um=expand_um, tile_size=tile_size,
                    method=method, model=model, cells_table=cells_table, progress=progress)
    console.print(f"wrote {out}: {s['n_cells']} cells ({s['method']}, {s['modality']}, {s['nuclear_signal']}), "
                  f"median nucleus {s['median_nucleus_area_um2']:.1f} µm², cell {s['median_cell_area_um2']:.1f} µm², "
                  f"{s['wall_s']:.1f} s", highlight=False, markup=False)
    if pixel_size_um is not None:
        console.print(f"next: madcell prepare {out} --out views.h5 --option pixel_size_um={s['pixel_size_um']:g}",
                      highlight=False, markup=False)


def register(app: typer.Typer) -> None:
    app.command("segment")(segment)
