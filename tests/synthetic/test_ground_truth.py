"""Ground-truth construction rules, marker difficulty and gene programmes."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import tifffile
from scipy import ndimage

from madcell.synthetic import CELL_TYPES, CHANNELS, NICHES


def test_subtype_rules(easy_dir):
    cells = pd.read_parquet(easy_dir / "cells.parquet")
    assert set(cells["niche"]) <= set(NICHES) and set(cells["cell_type"]) <= set(CELL_TYPES)
    assert cells["cell_type"].nunique() >= 5 and cells["niche"].nunique() >= 3
    split = cells["subtype"].isin(["macrophage_TAM", "CAF"])
    assert split.any() and (cells.loc[split, "niche"] == "tumour").all()
    stromal = cells["subtype"].isin(["macrophage_stromal", "fibroblast_stromal"])
    assert (cells.loc[stromal, "niche"] != "tumour").all()
    prolif = cells["proliferating"].to_numpy()
    assert cells.loc[prolif, "niche"].nunique() >= 2
    assert (cells.loc[prolif, "subtype"] == cells.loc[prolif, "cell_type"] + "_proliferating").all()
    plain = ~prolif & ~cells["cell_type"].isin(["macrophage", "fibroblast"])
    assert (cells.loc[plain, "subtype"] == cells.loc[plain, "cell_type"]).all()


def _type_means(folder) -> pd.DataFrame:
    img = tifffile.imread(folder / "image.ome.tif").astype(np.float64)
    labels = tifffile.imread(folder / "labels.tif")
    cells = pd.read_parquet(folder / "cells.parquet")
    per_cell = {c: ndimage.mean(img[i], labels, cells["label"]) for i, c in enumerate(CHANNELS)}
    return pd.DataFrame(per_cell).assign(cell_type=cells["cell_type"]).groupby("cell_type").mean()


def test_hard_mode_hides_marker_signatures(easy_dir, hard_dir):
    easy, hard = _type_means(easy_dir), _type_means(hard_dir)
    for ch in ["membrane", "cytoplasm", "ecm"]:  # the marker channels (nucleus is shared in both)
        spread_easy = easy[ch].std() / easy[ch].mean()
        spread_hard = hard[ch].std() / hard[ch].mean()
        assert spread_hard < 0.5 * spread_easy, (ch, spread_easy, spread_hard)


def test_gene_programmes(easy_dir):
    adata = ad.read_h5ad(easy_dir / "expression.h5ad")
    X = np.asarray(adata.X, dtype=float)
    g = {name: j for j, name in enumerate(adata.var_names)}
    prolif = adata.obs["proliferating"].to_numpy()
    assert X[prolif, g["MKI67"]].mean() > 5 * X[~prolif, g["MKI67"]].mean()
    tumour = (adata.obs["cell_type"] == "tumour").to_numpy()
    assert X[tumour, g["EPCAM"]].mean() > 10 * X[~tumour, g["EPCAM"]].mean()
    sub = adata.obs["subtype"].to_numpy()
    assert X[sub == "macrophage_TAM", g["SPP1"]].mean() > X[sub == "macrophage_stromal", g["SPP1"]].mean()
    assert (X == 0).mean() > 0.3  # sparse counts, as in real panels
