"""SpatialData elements from madcell's slide sources: streamed image / labels arrays and transforms.

A slide's pixel (c, r) is *centred* at ``origin + pixel_size * (c, r)`` µm (madcell's convention);
SpatialData puts pixel corners on integers, so the transformation to µm is
``Scale(pixel_size)`` then ``Translation(origin - pixel_size / 2)``.
"""

from __future__ import annotations

import numpy as np

CHUNK = 2048


def to_um(pixel_size_um: float, origin_um=(0.0, 0.0)):
    from spatialdata.transformations import Scale, Sequence, Translation

    ps = float(pixel_size_um)
    return Sequence([Scale([ps, ps], axes=("x", "y")),
                     Translation([float(origin_um[0]) - ps / 2, float(origin_um[1]) - ps / 2], axes=("x", "y"))])


def _streamed(read, shape: tuple[int, ...], dtype, chunk: int = CHUNK):
    """A dask array whose blocks are ``read(y0, y1, x0, x1)`` windows: nothing is held whole."""
    import dask.array as da

    lead = shape[:-2]

    def block(block_info=None):
        loc = block_info[None]["array-location"]
        (y0, y1), (x0, x1) = loc[-2], loc[-1]
        win = read(y0, y1, x0, x1)
        return np.asarray(win[tuple(slice(a, b) for a, b in loc[:-2])], dtype=dtype)

    chunks = tuple((n,) for n in lead) + tuple(tuple(min(chunk, n - i) for i in range(0, n, chunk)) for n in shape[-2:])
    return da.map_blocks(block, dtype=dtype, chunks=chunks)


def pyramid_factors(shape_hw: tuple[int, int], smallest: int = 1024) -> list[int]:
    """2x steps until the longest side is at most ``smallest`` (napari needs no more)."""
    n, side = [], max(shape_hw)
    while side > smallest:
        n.append(2)
        side //= 2
    return n


def image_element(slide, transformations: dict):
    from spatialdata.models import Image2DModel

    img = slide.image
    data = _streamed(img.read, tuple(img.shape), img.dtype)
    return Image2DModel.parse(data, dims=("c", "y", "x"), c_coords=list(img.channel_names),
                              transformations=transformations,
                              scale_factors=pyramid_factors(img.shape[1:]) or None)


def labels_element(slide, transformations: dict):
    from spatialdata.models import Labels2DModel

    lab = slide.labels

    def read(y0, y1, x0, x1):
        return lab.read(y0, y1, x0, x1).astype(np.int32, copy=False)

    data = _streamed(read, tuple(lab.shape), np.int32)
    return Labels2DModel.parse(data, dims=("y", "x"), transformations=transformations,
                               scale_factors=pyramid_factors(lab.shape) or None)


def circles_element(xy_um: np.ndarray, radius_um: np.ndarray, ids, transformations: dict):
    """Cells as circles (centroid, radius) in µm when no image/mask is exported."""
    import geopandas as gpd
    import pandas as pd
    import shapely
    from spatialdata.models import ShapesModel

    gdf = gpd.GeoDataFrame({"radius": np.asarray(radius_um, dtype=np.float64)},
                           geometry=shapely.points(np.asarray(xy_um, dtype=np.float64)), index=pd.Index(ids))
    return ShapesModel.parse(gdf, transformations=transformations)
