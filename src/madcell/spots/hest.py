"""HEST-style AnnData (``.h5ad``) plus an image -> :class:`~madcell.spots.data.SpotData`.

The ``.h5ad`` holds spots x genes counts with

* spot centres in full-resolution pixels: ``obsm['spatial']`` (x = column, y = row), else
  ``obs[['pxl_col_in_fullres', 'pxl_row_in_fullres']]``;
* optional ``obs`` ``in_tissue`` (default: every spot), ``array_row`` / ``array_col``;
* optional ``uns['spatial'][library]['scalefactors']`` (Space Ranger keys; ``spot_diameter_fullres``);
  option ``library_id`` picks the library when there are several.

Every other ``obs`` column is kept as a spot label. The image is option ``image``, else the HEST
folder's ``wsis/{sample}.tif`` next to ``st/{sample}.h5ad``. The platform is option ``platform``, else
read off the lattice: hexagonal -> Visium, square -> legacy ST.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from madcell.errors import InputError
from madcell.spots.data import OBS_COLUMNS, SpotData, check_spots, make_spot_data, spot_obs
from madcell.spots.geometry import PLATFORMS, lattice_kind, resolve_scale

OPTIONS = {"image", "platform", "library_id", "pitch_um", "spot_diameter_um", "pixel_size_um"}


def h5ad_file(path: Path) -> Path | None:
    if path.is_file():
        return path if path.name.lower().endswith(".h5ad") else None
    found = sorted(path.glob("*.h5ad")) or sorted((path / "st").glob("*.h5ad"))
    return found[0] if len(found) == 1 else None


def _scalefactors(adata, lib: str | None, path: Path) -> dict | None:
    spatial = adata.uns.get("spatial")
    if not isinstance(spatial, dict) or not spatial:
        return None
    if lib is None:
        if len(spatial) > 1:
            raise InputError(path, f"uns['spatial'] holds {len(spatial)} libraries {sorted(spatial)}: give library_id")
        lib = next(iter(spatial))
    if lib not in spatial:
        raise InputError(path, f"library {lib!r} not in uns['spatial'] (has {sorted(spatial)})")
    sf = spatial[lib].get("scalefactors") if isinstance(spatial[lib], dict) else None
    if not isinstance(sf, dict):
        return None
    return {k: float(np.asarray(v)) for k, v in sf.items() if np.asarray(v).dtype.kind in "iuf" and np.asarray(v).size == 1}


def _image(h5ad: Path, given) -> Path | None:
    if given:
        return Path(given)
    if h5ad.parent.name == "st":
        found = [p for ext in ("tif", "tiff") for p in (h5ad.parent.parent / "wsis").glob(f"{h5ad.stem}.{ext}")]
        return found[0] if found else None
    return None


def read_hest(path: str | Path, options: dict | None = None) -> SpotData:
    import anndata as ad

    opts, path = dict(options or {}), Path(path)
    h5ad = h5ad_file(path)
    if h5ad is None:
        raise InputError(path, "expected one .h5ad file (or a folder holding exactly one, or st/ with one)")
    try:
        adata = ad.read_h5ad(h5ad)
    except Exception as exc:
        raise InputError(h5ad, f"cannot read AnnData ({type(exc).__name__}: {exc})") from None
    if "spatial" in adata.obsm:
        xy = np.asarray(adata.obsm["spatial"], dtype=np.float64)[:, :2]
    elif {"pxl_col_in_fullres", "pxl_row_in_fullres"} <= set(adata.obs):
        xy = adata.obs[["pxl_col_in_fullres", "pxl_row_in_fullres"]].to_numpy(np.float64)
    else:
        raise InputError(h5ad, "no spot pixel coordinates: expected obsm['spatial'] or obs pxl_col/row_in_fullres")
    o = adata.obs
    has_array = {"array_row", "array_col"} <= set(o)
    in_tissue = o["in_tissue"].to_numpy() == 1 if "in_tissue" in o else np.ones(len(o), bool)
    obs = spot_obs(adata.obs_names, xy[:, 0], xy[:, 1], in_tissue,
                   o["array_row"] if has_array else None, o["array_col"] if has_array else None)
    image = _image(h5ad, opts.get("image"))
    check_spots(obs, h5ad, image)

    if opts.get("platform"):
        platform, how = PLATFORMS[opts["platform"]], "given"
    else:
        kind = lattice_kind(xy)
        if kind is None:
            raise InputError(h5ad, "cannot tell the platform from the spot lattice (too few spots): give platform "
                                   "(visium or st)")
        platform = PLATFORMS["visium" if kind == "hexagonal" else "st"]
        how = f"{kind} lattice"
    sf = _scalefactors(adata, opts.get("library_id"), h5ad)
    array_cr = obs[["array_col", "array_row"]].to_numpy() if has_array else None
    scale = resolve_scale(xy, array_cr, platform, opts, sf, h5ad)
    labels = o.drop(columns=[c for c in OBS_COLUMNS + ["pxl_col_in_fullres", "pxl_row_in_fullres"] if c in o])
    counts = ad.AnnData(X=adata.X, obs=pd.concat([obs, labels.set_axis(obs.index)], axis=1), var=adata.var.copy())
    for k, v in adata.obsm.items():
        if k != "spatial":
            counts.obsm[k] = v.set_axis(obs.index) if isinstance(v, pd.DataFrame) else v
    meta = {"format": "hest", "h5ad": str(h5ad), "scalefactors_values": sf, "platform_source": how}
    return make_spot_data(counts, scale, platform.name, image, path, meta)
