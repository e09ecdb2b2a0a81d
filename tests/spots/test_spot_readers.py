"""Spot readers on synthetic spots with known answers: Space Ranger (csv with and without header,
parquet, outs/), HEST-style AnnData, and a small legacy-ST folder."""

from __future__ import annotations

import json
import shutil

import anndata as ad
import numpy as np
import pandas as pd
import pytest

from madcell.spots import detect_spot_format, read_spots
from madcell.spots.spaceranger import POSITION_COLUMNS
from spots_testdata import write_legacy_st


def _truth(folder):
    t = pd.read_csv(folder / "spots_truth.csv", keep_default_na=False)
    return t[t["in_tissue"] == 1].set_index("barcode")


def _check_round_trip(s, tissue, folder):
    truth = _truth(folder)
    assert list(s.spot_ids) == list(truth.index)
    assert np.array_equal(s.xy_px, truth[["x_px", "y_px"]].to_numpy(float))  # positions exact
    assert s.counts.obs["in_tissue"].all()
    assert np.array_equal(s.counts.obs["array_row"], truth["array_row"])
    expr = ad.read_h5ad(tissue / "expression.h5ad")
    in_spots = [c for ids in truth["cell_ids"] for c in ids.split(";")]
    assert np.isclose(s.counts.X.sum(), np.asarray(expr[in_spots].X).sum())  # counts sum = the cells' inside spots
    assert np.array_equal(np.asarray(s.counts.X.sum(axis=1)).ravel(),
                          [np.asarray(expr[ids.split(";")].X).sum() for ids in truth["cell_ids"]])


def test_spaceranger_round_trip(tissue, visium_dir):
    assert detect_spot_format(visium_dir) == "spaceranger"
    s = read_spots(visium_dir, image=tissue / "image.ome.tif")
    _check_round_trip(s, tissue, visium_dir)
    assert s.platform == "visium" and s.pitch_um == 100
    assert s.spot_diameter_px == 110.0 and s.spot_diameter_um == 55.0 and s.spot_diameter_source == "from scalefactors"
    assert s.um_per_px == pytest.approx(0.5, rel=0.01) and s.um_per_px_source == "from scalefactors"
    assert s.meta["um_per_px_lattice"] == pytest.approx(0.5, rel=0.01)  # the cross-check agrees
    assert s.image_path == tissue / "image.ome.tif"
    a = s.cells_in_spots(pd.read_parquet(tissue / "cells.parquet")[["x_px", "y_px"]].to_numpy())
    assert np.array_equal(a.n_cells_per_spot, _truth(visium_dir)["n_cells"])


def test_spaceranger_without_scalefactors_derives_from_lattice(tmp_path, tissue, visium_dir):
    folder = shutil.copytree(visium_dir, tmp_path / "v")
    (folder / "spatial" / "scalefactors_json.json").unlink()
    s = read_spots(folder)
    assert s.um_per_px == pytest.approx(0.5, rel=0.01) and s.um_per_px_source == "derived from the lattice"
    assert s.spot_diameter_px == pytest.approx(110.0, rel=0.01) and s.spot_diameter_source == "derived from the lattice"
    assert "least-squares" in s.meta["lattice_method"] and s.image_path is None


def test_st_grid_in_spaceranger_layout(tissue, st_dir):
    s = read_spots(st_dir)
    _check_round_trip(s, tissue, st_dir)
    assert s.platform == "st" and s.meta["platform_source"].startswith("square lattice")
    assert s.um_per_px == pytest.approx(0.5, rel=0.01) and s.spot_diameter_px == 200.0


@pytest.mark.parametrize("layout", ["headerless", "parquet", "outs"])
def test_spaceranger_position_variants(tmp_path, tissue, visium_dir, layout):
    root = shutil.copytree(visium_dir, tmp_path / "v" / ("outs" if layout == "outs" else ""))
    new = root / "spatial" / "tissue_positions.csv"
    if layout == "headerless":
        pd.read_csv(new).to_csv(root / "spatial" / "tissue_positions_list.csv", header=False, index=False)
        new.unlink()
    elif layout == "parquet":
        pd.read_csv(new).to_parquet(root / "spatial" / "tissue_positions.parquet")
        new.unlink()
    path = tmp_path / "v"
    assert detect_spot_format(path) == "spaceranger"
    s = read_spots(path)
    _check_round_trip(s, tissue, visium_dir)
    assert s.um_per_px_source == "from scalefactors"


def _hest_file(path, s, scalefactors=True, array=True):
    obs = s.counts.obs.drop(columns=["x_px", "y_px"] + ([] if array else ["array_row", "array_col"])).copy()
    obs["in_tissue"] = obs["in_tissue"].astype(int)
    obs["region"] = np.where(np.arange(len(obs)) % 2, "a", "b")
    a = ad.AnnData(X=s.counts.X.copy(), obs=obs, var=pd.DataFrame(index=s.counts.var_names))
    a.obsm["spatial"] = s.xy_px
    if scalefactors:
        a.uns["spatial"] = {"SYN1": {"scalefactors": {"spot_diameter_fullres": s.spot_diameter_px,
                                                      "tissue_hires_scalef": 1.0}}}
    a.write_h5ad(path)
    return path


def test_hest_anndata(tmp_path, tissue, visium_dir):
    sr = read_spots(visium_dir)
    h5ad = _hest_file(tmp_path / "SYN1.h5ad", sr)
    assert detect_spot_format(h5ad) == "hest" and detect_spot_format(tmp_path) == "hest"
    s = read_spots(h5ad, image=tissue / "image.ome.tif")
    _check_round_trip(s, tissue, visium_dir)
    assert s.platform == "visium" and s.meta["platform_source"] == "hexagonal lattice"
    assert s.um_per_px == pytest.approx(0.5, rel=0.01) and s.um_per_px_source == "from scalefactors"
    assert s.spot_diameter_px == 110.0 and list(s.counts.obs["region"][:2]) == ["b", "a"]
    # no scalefactors, no array coordinates: nearest-neighbour spacing of the lattice
    bare = read_spots(_hest_file(tmp_path / "bare.h5ad", sr, scalefactors=False, array=False))
    assert bare.um_per_px_source == "derived from the lattice" and "nearest-neighbour" in bare.meta["lattice_method"]
    assert bare.um_per_px == pytest.approx(0.5, rel=0.01) and (bare.counts.obs["array_row"] == -1).all()


def test_hest_folder_layout_finds_the_image(tmp_path, tissue, visium_dir):
    (tmp_path / "st").mkdir()
    (tmp_path / "wsis").mkdir()
    _hest_file(tmp_path / "st" / "SYN1.h5ad", read_spots(visium_dir))
    shutil.copy(tissue / "image.ome.tif", tmp_path / "wsis" / "SYN1.tif")
    s = read_spots(tmp_path)
    assert s.image_path == tmp_path / "wsis" / "SYN1.tif"


def test_legacy_st_small(tmp_path):
    folder = write_legacy_st(tmp_path / "st")
    assert detect_spot_format(folder) == "legacy_st"
    s = read_spots(folder)
    assert len(s.spot_ids) == 15 and s.meta["selected_without_counts"] == ["4x4"]
    assert s.um_per_px == pytest.approx(200 / 300) and s.um_per_px_source == "derived from the lattice"
    assert s.spot_diameter_px == pytest.approx(150.0)
    assert np.array_equal(s.xy_px[0], [300.0, 300.0]) and s.counts.obs["array_col"].iloc[1] == 2
    assert list(s.counts.obs["cluster"][:4].astype(object).fillna("-")) == ["0", "1", "1", "-"]
    assert list(s.counts.obs["cluster_annotation"][:2]) == ["stroma", "immune : APC, myeloid"]
    assert s.label_tables["proportions"].shape == (15, 2)
    with pytest.warns(UserWarning, match="differs by 33% from the lattice"):
        given = read_spots(folder, pixel_size_um=0.5)
    assert given.um_per_px == 0.5 and given.um_per_px_source == "given" and given.spot_diameter_px == 200.0


def test_position_columns_are_space_ranger_order():
    assert POSITION_COLUMNS[4:] == ["pxl_row_in_fullres", "pxl_col_in_fullres"]  # row (y) before column (x)
