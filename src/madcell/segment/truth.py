"""True nucleus masks of a synthetic tissue (``madcell synth``), for measuring segmentation.

The generator writes the true *cell* masks (``labels.tif``) but not the nuclei. Both come from the
same rasteriser (:func:`madcell.synthetic.shapes.paint`), whose shapes are a deterministic function
of ``synth.json`` (cells, seed, proliferating fraction, pixel size): they are drawn again here and
painted over the whole slide. The repainted cells must equal ``labels.tif`` exactly, which checks
that the nuclei are those of the rendered image.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np


def synthetic_masks(folder: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """(nuclei, cells) int32 label images of a synthetic tissue folder; a nucleus has its cell's label."""
    import tifffile

    from madcell.synthetic.layout import make_layout
    from madcell.synthetic.shapes import make_shapes, paint

    folder = Path(folder)
    s = json.loads((folder / "synth.json").read_text())
    layout = make_layout(int(s["cells"]), int(s["seed"]), float(s["proliferating_frac"]))
    shapes = make_shapes(layout, float(s["pixel_size_um"]), np.random.default_rng([int(s["seed"]), 2]))
    cells, nucleus = paint(shapes, np.arange(len(shapes)), 0, 0, int(s["height_px"]), int(s["width_px"]))
    if not np.array_equal(cells, tifffile.imread(folder / "labels.tif")):
        raise ValueError(f"{folder}: repainted cells differ from labels.tif (generator changed since it was written?)")
    return np.where(nucleus, cells, 0).astype(np.int32), cells


STARDIST_IMAGES = "stardist/data/images"  # in the stardist wheel: img2d.tif + mask2d.tif (2018 DSB), histo.jpg


def stardist_examples(path: str | Path, into: str | Path) -> Path:
    """The folder of the example images shipped in the ``stardist`` wheel (``pip download --no-deps
    stardist==0.9.2``): ``path`` is the wheel (its images are extracted into ``into``) or the unzipped
    folder. ``img2d.tif`` / ``mask2d.tif`` are a fluorescence nuclei image of the 2018 Data Science
    Bowl and its ground-truth labels; ``histo.jpg`` is an H&E crop without labels."""
    import zipfile

    path = Path(path)
    if path.is_file():
        with zipfile.ZipFile(path) as wheel:
            members = [m for m in wheel.namelist() if m.startswith(STARDIST_IMAGES + "/")]
            if not members:
                raise FileNotFoundError(f"{path}: no {STARDIST_IMAGES}/ in this archive")
            wheel.extractall(into, members)
        return Path(into) / STARDIST_IMAGES
    for folder in (path / STARDIST_IMAGES, path / "data" / "images", path / "images", path):
        if (folder / "img2d.tif").is_file():
            return folder
    raise FileNotFoundError(f"{path}: no img2d.tif under it (expected the unzipped stardist wheel)")
