"""Write a Xenium outs folder as a SpatialData zarr by hand, from the raw files alone.

Independent of madcell's readers on purpose (tifffile, pandas, scanpy's 10x reader, spatialdata's
models), so that comparing ``madcell prepare`` on the folder with ``madcell prepare`` on the zarr
tests madcell's SpatialData reader against its Xenium reader, not a reader against itself.

* image ``morphology``: the OME-TIFF's level 0 (µm/px from its ``PhysicalSizeX`` unless given) as a multiscale image (``--scale-factors``), channels
  named from the OME metadata; transformation to ``global`` (µm): pixel centre (c, r) at
  ``origin + pixel_size * (c, r)``, i.e. madcell's Xenium convention;
* shapes ``cell_boundaries``: the polygons in µm (identity to ``global``), indexed by cell id;
* table ``table``: ``cell_feature_matrix.h5`` Gene Expression counts, annotating ``cell_boundaries``
  by ``cell_id``, ``obsm['spatial']`` = ``cells.parquet``'s centroids (µm), plus 10x's clusters (``analysis/clustering/*/clusters.csv``) as ``xenium_<name>``.

Run: ``python benchmarks/xenium_to_sdata.py XENIUM_FOLDER OUT.zarr [--pixel-size 0.2125]``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd


def xenium_to_spatialdata(folder: str | Path, out: str | Path, pixel_size_um: float | None = None,
                          origin_um: tuple[float, float] = (0.0, 0.0), scale_factors: list[int] | None = None):
    import geopandas as gpd
    import scanpy as sc
    import shapely
    import spatialdata as sd
    import tifffile
    from spatialdata.models import Image2DModel, ShapesModel, TableModel
    from spatialdata.transformations import Identity, Scale, Sequence, Translation

    folder = Path(folder)
    with tifffile.TiffFile(folder / "morphology_focus.ome.tif") as tf:
        img = tf.series[0].levels[0].asarray()
        pixels = tifffile.xml2dict(tf.ome_metadata)["OME"]["Image"]["Pixels"] if tf.ome_metadata else {}
        channels = pixels.get("Channel", [])
        if pixel_size_um is None:  # the OME metadata's, as written (0.2125000159375012 on the pancreas crop)
            pixel_size_um = pixels.get("PhysicalSizeX")
            if pixel_size_um is None:
                raise SystemExit(f"{folder}: no PhysicalSizeX in the OME metadata; give --pixel-size")
        channels = [channels] if isinstance(channels, dict) else channels
        names = [c.get("Name", f"ch{i}") for i, c in enumerate(channels)]
    img = img[None] if img.ndim == 2 else img
    names = names if len(names) == img.shape[0] else [f"ch{i}" for i in range(img.shape[0])]
    ps, (ox, oy) = float(pixel_size_um), origin_um
    to_um = Sequence([Scale([ps, ps], axes=("x", "y")), Translation([ox - ps / 2, oy - ps / 2], axes=("x", "y"))])
    image = Image2DModel.parse(img, dims=("c", "y", "x"), c_coords=names, transformations={"global": to_um},
                               scale_factors=scale_factors, chunks=(1, 1024, 1024))

    b = pd.read_parquet(folder / "cell_boundaries.parquet")
    b["cell_id"] = b["cell_id"].map(lambda v: v.decode() if isinstance(v, bytes) else str(v))
    polys = {cid: shapely.Polygon(g[["vertex_x", "vertex_y"]].to_numpy()) for cid, g in b.groupby("cell_id", sort=False)}
    shapes = ShapesModel.parse(gpd.GeoDataFrame(geometry=list(polys.values()), index=pd.Index(list(polys), name="cell_id")),
                               transformations={"global": Identity()})

    adata = sc.read_10x_h5(folder / "cell_feature_matrix.h5")
    adata.var_names_make_unique()
    adata.obs = pd.DataFrame({"cell_id": adata.obs_names.astype(str), "region": "cell_boundaries"},
                             index=pd.RangeIndex(adata.n_obs).astype(str))
    for csv in sorted((folder / "analysis" / "clustering").glob("*/clusters.csv")):
        clusters = pd.read_csv(csv).astype({"Barcode": str}).set_index("Barcode")["Cluster"].astype(str)
        name = "xenium_" + csv.parent.name.removeprefix("gene_expression_")
        adata.obs[name] = clusters.reindex(adata.obs["cell_id"]).to_numpy()
    cells = pd.read_parquet(folder / "cells.parquet")  # 10x's centroids (µm), where spatialdata-io puts them
    cells["cell_id"] = cells["cell_id"].map(lambda v: v.decode() if isinstance(v, bytes) else str(v))
    adata.obsm["spatial"] = cells.set_index("cell_id").loc[adata.obs["cell_id"], ["x_centroid", "y_centroid"]].to_numpy(np.float64)
    adata.obs["region"] = pd.Categorical(adata.obs["region"])
    table = TableModel.parse(adata, region="cell_boundaries", region_key="region", instance_key="cell_id")
    sdata = sd.SpatialData(images={"morphology": image}, shapes={"cell_boundaries": shapes}, tables={"table": table})
    sdata.write(out, overwrite=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("folder")
    ap.add_argument("out")
    ap.add_argument("--pixel-size", type=float, default=None, help="µm per pixel (default: the OME metadata's)")
    ap.add_argument("--origin", type=float, nargs=2, default=(0.0, 0.0))
    ap.add_argument("--scale-factors", type=int, nargs="*", default=[2, 2])
    a = ap.parse_args()
    xenium_to_spatialdata(a.folder, a.out, a.pixel_size, tuple(a.origin), a.scale_factors or None)


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
