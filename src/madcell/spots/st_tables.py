"""Tables of the her2st layout: reading them, their ``"{x}x{y}"`` spot ids, and the spot label tables
(expression clusters with their names, deconvolved cell-type proportions) attached to the counts.

Every label table must name only counted spots; the cluster annotation's pixel positions must be
those of the spot file (within 1 px), so that a label cannot land on the wrong spot.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from madcell.errors import InputError


def first_file(*candidates: Path) -> Path | None:
    return next((p for p in candidates if p.is_file()), None)


def read_tsv(path: Path, what: str, index_col=0) -> pd.DataFrame:
    try:
        return pd.read_csv(path, sep="\t", index_col=index_col)
    except Exception as exc:
        raise InputError(path, f"cannot read {what} ({type(exc).__name__}: {exc})") from None


def spot_ids(df: pd.DataFrame, path: Path) -> pd.Index:
    for c in ("x", "y"):
        if c not in df or not pd.api.types.is_integer_dtype(df[c]):
            raise InputError(path, f"needs integer array column {c!r}")
    return pd.Index(df["x"].astype(str) + "x" + df["y"].astype(str), dtype=str)


def check_known(ids: pd.Index, known: pd.Index, path: Path, counts_path: Path) -> None:
    bad = ids[~ids.isin(known)]
    if len(bad):
        raise InputError(path, f"{len(bad)} spot ids are not in {counts_path.name} (e.g. {list(bad[:3])}): "
                               "spot ids do not match")


def cluster_names(path: Path, patient: str) -> dict[str, str]:
    """``cluster -> annotated as`` for ``patient`` from ``motivation.csv``. The file is not valid CSV (its
    free-text fields hold unquoted commas, e.g. "immune : APC, myeloid,Marker genes include: ..."), so the
    name is the text after ``patient,cluster,`` up to the next field that is empty or starts the
    evidence ("Marker ...", a URL)."""
    lines = path.read_text().splitlines()
    if not lines or not lines[0].startswith("patient,cluster,annotated as"):
        return {}
    names = {}
    for line in lines[1:]:
        parts = line.split(",", 2)
        if len(parts) == 3 and parts[0] == patient:
            names[parts[1]] = re.split(r",(?=Marker|,|http|$)", parts[2])[0].strip()
    return names


def attach_labels(counts, folder: Path, section: str, patient: str, cnt_path: Path, sel: pd.DataFrame,
                  meta: dict) -> None:
    """``obs['cluster']`` (+ ``cluster_annotation``) and ``obsm['proportions']`` from the optional files
    under ``res/`` (see :mod:`madcell.spots.legacy_st`); their paths go into ``meta``."""
    res = folder / "res"
    lbl_dir = res / "ST-cluster" / "lbl"
    lbl_path = first_file(lbl_dir / f"{section}-cluster-annotation.tsv.gz", lbl_dir / f"{section}-cluster-annotation.tsv")
    if lbl_path is not None:
        lbl = read_tsv(lbl_path, "cluster annotation")
        if "label" not in lbl:
            raise InputError(lbl_path, "needs a 'label' column")
        ids = spot_ids(lbl, lbl_path)
        check_known(ids, counts.obs_names, lbl_path, cnt_path)
        if {"pixel_x", "pixel_y"} <= set(lbl):  # the same spot must sit at the same place in both files
            off = np.hypot(lbl["pixel_x"].to_numpy() - sel.loc[ids, "pixel_x"].to_numpy(),
                           lbl["pixel_y"].to_numpy() - sel.loc[ids, "pixel_y"].to_numpy())
            if (off > 1).any():
                raise InputError(lbl_path, f"{int((off > 1).sum())} spots have other pixel positions than in "
                                           f"{section}_selection.tsv (up to {off.max():.0f} px)")
        cluster = pd.Series(lbl["label"].astype(str).to_numpy(), index=ids).reindex(counts.obs_names)
        counts.obs["cluster"] = pd.Categorical(cluster)
        meta["cluster_annotation"] = str(lbl_path)
        mot_path = res / "ST-cluster" / "motivation.csv"
        names = cluster_names(mot_path, patient) if mot_path.is_file() else {}
        if names:
            counts.obs["cluster_annotation"] = pd.Categorical(cluster.map(names))
    prop_path = res / "ST-deconv" / "props" / "major" / f"{section}-proportion.tsv"
    if prop_path.is_file():
        prop = read_tsv(prop_path, "cell-type proportions")
        prop.index = prop.index.astype(str)
        if not all(pd.api.types.is_numeric_dtype(t) for t in prop.dtypes):
            raise InputError(prop_path, "proportions must be numbers only")
        check_known(prop.index, counts.obs_names, prop_path, cnt_path)
        counts.obsm["proportions"] = prop.reindex(counts.obs_names).astype(np.float64)
        meta["proportions"] = str(prop_path)
