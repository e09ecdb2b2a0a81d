"""``export_spatialdata``: an embedding AnnData -> a SpatialData zarr that napari-spatialdata can show.

The table (default name ``madcell``) is the AnnData itself — ``obsm['X_mad']`` and the other
embeddings, measured expression in ``X``, predicted labels (``obs['pred_*']``), predicted genes
(``layers['pred_expression']``), niches (``obs['*_niche']``) and a Leiden clustering of the embedding
when it has none — annotating one cell element per slide through ``region`` / ``instance_id``:

* ``into=`` an existing SpatialData that the cells were prepared from: the table annotates the very
  labels or shapes element ``prepare`` read (recorded in the view store); nothing else is touched.
* ``out=`` a new zarr: per slide the image (``<slide>_image``, a pyramid) and the cell mask
  (``<slide>_cells``, labels = the mask values) read again from the prepared input, with the
  transformation to µm; ``image=False`` (or an input that is gone) writes the cells as circles
  (centroid, half the cell's bounding-box side; 5 µm when unknown) instead. One slide: coordinate system ``global``;
  several: one system per slide id.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from madcell.errors import InputError
from madcell.embed.spatial_uns import cell_box_sides_um
from madcell.export.elements import circles_element, image_element, labels_element, to_um

KEEP_UNS = ("madcell", "madcell_decode")


def _table(adata, cluster: bool):
    a = adata.copy()
    key = a.uns.get("madcell", {}).get("embedding_key")
    if cluster and key in a.obsm and not any(c.startswith(("leiden", "louvain")) for c in a.obs.columns):
        from madcell.analysis.embedding import cluster as run_cluster

        run_cluster(a, key)
    for k in [k for k in a.obsp]:
        del a.obsp[k]
    a.uns = {k: a.uns[k] for k in KEEP_UNS if k in a.uns}
    return a


def _store_meta(adata, need: bool) -> tuple[dict, dict]:
    """(per-slide attributes, preparation parameters) of the view store the embedding came from."""
    path = adata.uns.get("madcell", {}).get("store")
    if path and Path(path).exists():
        from madcell.data.source import open_views

        src = open_views(path)
        try:
            return dict(getattr(src, "slides", {}) or {}), dict(getattr(src, "params", {}) or {})
        finally:
            src.close()
    if need:
        raise InputError(path or "uns['madcell']['store']", "the view store the cells were prepared into is not there; "
                         "export --into needs it to know which SpatialData element the cells are")
    return {}, {}


def _reread(record: dict, slide_id: str):
    inp = (record or {}).get("reader", {}).get("input")
    if not inp or not Path(inp["path"]).exists():
        return None
    from madcell.io import read_input

    found = [s for s in read_input(inp["path"], inp.get("format") or "auto", inp.get("options")) if s.slide_id == slide_id]
    return found[0] if found else None


def _instances(cells: pd.Index, slide) -> np.ndarray:
    label_of = pd.Series(slide.cells["label"].to_numpy(np.int64), index=slide.cells["cell_id"].astype(str))
    pos = label_of.index.get_indexer(cells)
    if (pos < 0).any():
        raise InputError(slide.source, f"{int((pos < 0).sum())} cells of the embedding are not in the input any more "
                                       f"(e.g. {list(cells[pos < 0][:3])})")
    return label_of.to_numpy()[pos]


def _new_elements(adata, slides_meta: dict, margin: float, image: bool, progress) -> tuple[dict, pd.Series, pd.Series]:
    """Elements of a new SpatialData, and per cell its region and instance id."""
    from spatialdata.transformations import Identity

    obs = adata.obs
    ids = obs["slide"].astype(str).to_numpy()
    elements, region, instance = {"images": {}, "labels": {}, "shapes": {}}, {}, {}
    names = list(dict.fromkeys(ids))
    unit = adata.uns.get("madcell", {}).get("spatial_unit", "um")
    for s in names:
        rows = np.flatnonzero(ids == s)
        cs = "global" if len(names) == 1 else s
        meta = slides_meta.get(s, {})
        slide = _reread(meta, s) if image else None
        cells = obs.index[rows].astype(str)
        if slide is not None and slide.pixel_size_um is not None:
            tr = {cs: to_um(slide.pixel_size_um, slide.meta.get("origin_um") or (0.0, 0.0))}
            progress(f"slide {s}: image {tuple(slide.image.shape)} and cell mask from {slide.source}")
            elements["images"][f"{s}_image"] = image_element(slide, tr)
            elements["labels"][f"{s}_cells"] = labels_element(slide, tr)
            instance.update(zip(rows, _instances(cells, slide)))
        else:
            side = cell_box_sides_um(obs.iloc[rows], int(adata.uns["madcell"]["morph_size"]), margin) \
                if unit == "um" else np.full(len(rows), np.nan)
            progress(f"slide {s}: cells as circles (no image{'' if not image else ': input not readable'})")
            elements["shapes"][f"{s}_cells"] = circles_element(adata.obsm["spatial"][rows], np.nan_to_num(side / 2, nan=5.0),
                                                               list(cells), {cs: Identity()})
            instance.update(zip(rows, cells))
        region.update({r: f"{s}_cells" for r in rows})
    n = adata.n_obs
    return elements, pd.Series([region[i] for i in range(n)]), pd.Series([instance[i] for i in range(n)])


def _into_elements(adata, slides_meta: dict, into: Path, sdata) -> tuple[pd.Series, pd.Series]:
    ids = adata.obs["slide"].astype(str).to_numpy()
    region, instance = np.empty(adata.n_obs, dtype=object), np.empty(adata.n_obs, dtype=object)
    for s in dict.fromkeys(ids):
        rec = slides_meta.get(s, {}).get("reader", {})
        src = Path(rec.get("input", {}).get("path", "")).resolve()
        if rec.get("format") != "spatialdata" or src != into.resolve():
            raise InputError(into, f"slide {s!r} was not prepared from this SpatialData (it came from {src}); "
                                   "export into a new zarr with --spatialdata instead")
        kind, name = rec["segmentation"].split("/", 1)
        rows = ids == s
        cells = adata.obs.index[rows].astype(str)
        if kind == "labels":
            inst = cells.astype(np.int64).to_numpy()
        else:
            index = sdata.shapes[name].index
            inst = cells.astype(index.dtype).to_numpy() if index.dtype.kind in "iu" else cells.to_numpy()
        region[rows], instance[rows] = name, inst
    return pd.Series(region), pd.Series(instance)


def export_spatialdata(adata, out: str | Path | None = None, into: str | Path | None = None, image: bool = True,
                       table_name: str = "madcell", cluster: bool = True, progress=print) -> Path:
    """Write (``out``) or add to (``into``) a SpatialData zarr; returns its path (module docstring)."""
    from madcell.io.spatialdata import require_spatialdata

    require_spatialdata(out or into)
    import spatialdata as sd
    from spatialdata.models import TableModel

    from madcell.utils.atomic import atomic_path

    if (out is None) == (into is None):
        raise ValueError("give exactly one of out= or into=")
    if "slide" not in adata.obs:
        raise InputError("embedding", "obs has no 'slide' column (not a madcell embedding AnnData?)")
    table = _table(adata, cluster)
    slides_meta, params = _store_meta(adata, need=into is not None)
    if into is not None:
        into = Path(into)
        sdata = sd.read_zarr(into)
        if table_name in sdata.tables:
            raise InputError(into, f"already has a table {table_name!r}; choose another --table name")
        region, instance = _into_elements(adata, slides_meta, into, sdata)
    else:
        elements, region, instance = _new_elements(adata, slides_meta, float(params.get("morph_margin") or 0.0), image,
                                                   progress)
    table.obs["region"] = pd.Categorical(region.to_numpy())
    inst = instance.to_numpy()
    numeric = all(isinstance(v, (int, np.integer)) for v in inst)
    table.obs["instance_id"] = inst.astype(np.int64) if numeric else inst.astype(str)
    table.obs_names = table.obs_names.astype(str)
    regions = sorted(set(region))
    table = TableModel.parse(table, region=regions[0] if len(regions) == 1 else regions, region_key="region",
                             instance_key="instance_id")
    if into is not None:
        sdata.tables[table_name] = table
        sdata.write_element(table_name)
        return into
    sdata = sd.SpatialData(**elements, tables={table_name: table})
    out = Path(out)
    if out.exists():
        raise InputError(out, "already exists; give a new path")
    with atomic_path(out, suffix=".zarr") as tmp:
        sdata.write(tmp)
    return out
