"""A small SpatialData object built in the tests: a 3-channel image pyramid, a cell mask on a coarser
grid than the image, polygons of the same cells, and a table with expression and a cell type.

Geometry (image level 0 pixels, madcell's centre convention): 12 disks of radius 20 px on a 4 x 3
grid; the image is 0.5 µm/px with its pixel (0, 0) centred at (10, 20) µm; the mask is on a 1 µm
grid (half the image's resolution). Label 13 is in the mask but has no table row.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest


def spatialdata_or_skip():
    """The spatialdata module; skipped without the optional group, except in CI (`make test` installs
    it there, so a missing install must fail, not skip)."""
    if os.environ.get("CI"):
        import spatialdata

        return spatialdata
    return pytest.importorskip("spatialdata")

H = W = 400
PS, ORIGIN = 0.5, (10.0, 20.0)
CENTRES = np.array([(60 + 90 * i, 70 + 110 * j) for j in range(3) for i in range(4)], dtype=float)  # (x, y) px
RADIUS = 20


def _disks(h: int, w: int, scale: float, extra: bool) -> np.ndarray:
    """Label mask on a grid ``scale`` image pixels per mask pixel (pixel centres compared)."""
    yy, xx = np.mgrid[0:h, 0:w]
    x_img, y_img = (xx + 0.5) * scale - 0.5, (yy + 0.5) * scale - 0.5
    lab = np.zeros((h, w), np.int32)
    for k, (cx, cy) in enumerate(CENTRES, start=1):
        lab[(x_img - cx) ** 2 + (y_img - cy) ** 2 <= RADIUS ** 2] = k
    if extra:
        lab[(x_img - 380) ** 2 + (y_img - 380) ** 2 <= 8 ** 2] = 13
    return lab


def build(path, shapes: bool = False, two_images: bool = False, pixel_system: bool = False):
    """Write the object to ``path`` (a .zarr folder); returns (path, table AnnData).

    ``pixel_system``: like spatialdata-io's Xenium objects, ``global`` is the image's own pixels (identity
    for the image) and the table's ``obsm['spatial']`` holds the cells' µm centroids."""
    sd = spatialdata_or_skip()
    import anndata as ad
    import geopandas as gpd
    import shapely
    from spatialdata.models import Image2DModel, Labels2DModel, ShapesModel, TableModel
    from spatialdata.transformations import Identity, Scale, Sequence, Translation

    rng = np.random.default_rng(0)
    img = rng.integers(0, 40, (3, H, W)).astype(np.uint16)
    img[0][_disks(H, W, 1.0, False) > 0] += 900  # bright nuclei in channel 0
    px_to_um = Sequence([Scale([PS, PS], axes=("x", "y")),
                         Translation([ORIGIN[0] - PS / 2, ORIGIN[1] - PS / 2], axes=("x", "y"))])
    if pixel_system:
        px_to_um = Identity()
    images = {"stain": Image2DModel.parse(img, dims=("c", "y", "x"), c_coords=["DAPI", "CD45", "PanCK"],
                                          transformations={"global": px_to_um}, scale_factors=[2, 2])}
    if two_images:
        images["other"] = Image2DModel.parse(img[:1], dims=("c", "y", "x"), transformations={"global": px_to_um})
    mask = _disks(H // 2, W // 2, 2.0, True)
    mask_to_um = Sequence([Scale([2 * PS, 2 * PS], axes=("x", "y")),
                           Translation([ORIGIN[0] - PS / 2, ORIGIN[1] - PS / 2], axes=("x", "y"))])
    if pixel_system:
        mask_to_um = Scale([2.0, 2.0], axes=("x", "y"))
    elements = {"images": images}
    n = len(CENTRES)
    if shapes:
        ang = np.linspace(0, 2 * np.pi, 64, endpoint=False)
        polys = [shapely.Polygon(np.column_stack([ORIGIN[0] + PS * (cx + RADIUS * np.cos(ang)),
                                                  ORIGIN[1] + PS * (cy + RADIUS * np.sin(ang))]))
                 for cx, cy in CENTRES]
        gdf = gpd.GeoDataFrame(geometry=polys, index=pd.Index([f"c{k}" for k in range(1, n + 1)]))
        elements["shapes"] = {"cells": ShapesModel.parse(gdf, transformations={"global": Scale([1.0, 1.0], axes=("x", "y"))})}
        inst = [f"c{k}" for k in range(1, n + 1)]
    else:
        elements["labels"] = {"cells": Labels2DModel.parse(mask, dims=("y", "x"), transformations={"global": mask_to_um})}
        inst = list(range(1, n + 1))
    X = rng.poisson(3, (n, 5)).astype(np.float32)
    table = ad.AnnData(X=X, var=pd.DataFrame(index=[f"g{i}" for i in range(5)]),
                       obs=pd.DataFrame({"cell_id": inst, "region": pd.Categorical(["cells"] * n),
                                         "cell_type": pd.Categorical(["T", "B", "tumour"] * (n // 3)),
                                         "area": np.arange(n, dtype=float)},
                                        index=[str(i) for i in range(n)]))
    if pixel_system:
        table.obsm["spatial"] = np.column_stack([ORIGIN[0] + PS * CENTRES[:, 0], ORIGIN[1] + PS * CENTRES[:, 1]])
    table = TableModel.parse(table, region="cells", region_key="region", instance_key="cell_id")
    sd.SpatialData(**elements, tables={"table": table}).write(path)
    return path, table
