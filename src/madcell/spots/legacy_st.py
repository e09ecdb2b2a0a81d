"""Legacy Spatial Transcriptomics (ST) in the her2st layout -> :class:`~madcell.spots.data.SpotData`.

The layout of ``almaan/her2st`` (one folder per data set, ``{section}`` e.g. ``B4``, patient = its letters):

* ``data/ST-cnts/{section}.tsv(.gz)``: spots x genes counts, first column the spot id ``"{x}x{y}"`` (array
  coordinates);
* ``data/ST-spotfiles/{section}_selection.tsv``: ``x``, ``y`` (array), ``pixel_x``, ``pixel_y`` (centre in
  image pixels: column, row), ``selected`` (1 = under tissue); every counted spot must have a row here
  (selected rows without counts are listed in ``meta['selected_without_counts']``);
* ``data/ST-imgs/{patient}/{section}/*.jpg``: the H&E (option ``image`` overrides);
* optional ``res/ST-cluster/lbl/{section}-cluster-annotation.tsv(.gz)`` (``x``, ``y``, ``label``,
  ``pixel_x/y``) -> ``obs['cluster']`` (missing for unannotated spots), with ``cluster_annotation`` from
  ``res/ST-cluster/motivation.csv`` (``patient, cluster, annotated as``) when present;
* optional ``res/ST-deconv/props/major/{section}-proportion.tsv`` -> ``obsm['proportions']``.

No file states µm/px: it is derived from the lattice (200 µm pitch; least-squares fit of ``pixel_x/y`` on
``x/y``) and recorded so. Label tables are read by :mod:`madcell.spots.st_tables`.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from madcell.errors import InputError
from madcell.spots.data import SpotData, check_spots, make_spot_data, spot_obs
from madcell.spots.geometry import PLATFORMS, resolve_scale
from madcell.spots.st_tables import attach_labels, check_known, first_file, read_tsv, spot_ids

OPTIONS = {"image", "section", "platform", "pitch_um", "spot_diameter_um", "pixel_size_um"}


def _section(folder: Path, given: str | None) -> str:
    found = sorted(re.sub(r"\.tsv(\.gz)?$", "", p.name) for p in (folder / "data" / "ST-cnts").glob("*.tsv*"))
    if given:
        if given not in found:
            raise InputError(folder, f"section {given!r} not in data/ST-cnts (found {found})")
        return given
    if len(found) != 1:
        raise InputError(folder, f"{len(found)} sections in data/ST-cnts ({found[:10]}): give option section")
    return found[0]


def read_legacy_st(path: str | Path, options: dict | None = None) -> SpotData:
    import anndata as ad

    opts, folder = dict(options or {}), Path(path)
    section = _section(folder, opts.get("section"))
    patient = re.sub(r"\d+$", "", section)
    cnt_dir = folder / "data" / "ST-cnts"
    cnt_path = first_file(cnt_dir / f"{section}.tsv.gz", cnt_dir / f"{section}.tsv")
    if cnt_path is None:
        raise InputError(cnt_dir / f"{section}.tsv.gz", "spot counts file does not exist")
    sel_path = folder / "data" / "ST-spotfiles" / f"{section}_selection.tsv"
    if not sel_path.is_file():
        raise InputError(sel_path, "spot selection file does not exist")
    sel = read_tsv(sel_path, "spot selection", index_col=None)
    for c in ("pixel_x", "pixel_y", "selected"):
        if c not in sel or not pd.api.types.is_numeric_dtype(sel[c]):
            raise InputError(sel_path, f"needs numeric column {c!r}")
    sel.index = spot_ids(sel, sel_path)
    if sel.index.has_duplicates:
        raise InputError(sel_path, f"duplicate spots (e.g. {sel.index[sel.index.duplicated()][0]!r})")

    cnt = read_tsv(cnt_path, "spot counts")
    cnt.index = cnt.index.astype(str)
    if not all(pd.api.types.is_numeric_dtype(t) for t in cnt.dtypes):
        raise InputError(cnt_path, "counts must be numbers only (spots x genes, first column the spot id)")
    check_known(cnt.index, sel.index, cnt_path, sel_path)  # every counted spot needs a position
    s = sel.loc[cnt.index]
    obs = spot_obs(cnt.index, s["pixel_x"], s["pixel_y"], s["selected"] == 1, s["y"], s["x"])
    platform = PLATFORMS[opts.get("platform") or "st"]
    scale = resolve_scale(sel[["pixel_x", "pixel_y"]].to_numpy(np.float64), sel[["x", "y"]].to_numpy(), platform,
                          opts, None, sel_path)
    images = sorted((folder / "data" / "ST-imgs").glob(f"*/{section}/*.jp*g"))
    image = Path(opts["image"]) if opts.get("image") else (images[0] if len(images) == 1 else None)
    check_spots(obs, cnt_path, image)

    counts = ad.AnnData(X=sp.csr_matrix(cnt.to_numpy(np.float32)), obs=obs,
                        var=pd.DataFrame(index=pd.Index(cnt.columns.astype(str), dtype=str)))
    counts.var_names_make_unique()
    meta = {"format": "legacy_st", "section": section, "counts": str(cnt_path), "selection": str(sel_path),
            "selected_without_counts": sorted(set(sel.index[sel["selected"] == 1]) - set(cnt.index)),
            "platform_source": "given" if opts.get("platform") else "legacy ST layout"}
    attach_labels(counts, folder, section, patient, cnt_path, sel, meta)
    return make_spot_data(counts, scale, platform.name, image, folder, meta)
