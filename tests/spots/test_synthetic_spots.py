"""The synthetic spot grid: lattice geometry, Space Ranger files, and the per-spot truth."""

from __future__ import annotations

import json

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from scipy.spatial import cKDTree
from typer.testing import CliRunner

from madcell.errors import InputError
from madcell.synthetic import CELL_TYPES
from madcell.synthetic.spots import make_spots


@pytest.mark.parametrize("platform, pitch_px, diam_px, n_neighbours", [("visium", 200, 110, 6), ("st", 400, 200, 4)])
def test_lattice_geometry(request, tissue, platform, pitch_px, diam_px, n_neighbours):
    out = request.getfixturevalue(f"{platform}_dir")
    pos = pd.read_csv(out / "spatial" / "tissue_positions.csv")
    assert list(pos.columns) == ["barcode", "in_tissue", "array_row", "array_col",
                                 "pxl_row_in_fullres", "pxl_col_in_fullres"]
    assert pos["barcode"].is_unique and pos["barcode"].str.fullmatch(r"[ACGT]{16}-1").all()
    xy = pos[["pxl_col_in_fullres", "pxl_row_in_fullres"]].to_numpy(float)
    d, _ = cKDTree(xy).query(xy, k=2)
    assert np.allclose(d[:, 1], pitch_px, atol=1.0)
    assert max(len(n) - 1 for n in cKDTree(xy).query_ball_point(xy, 1.1 * pitch_px)) == n_neighbours
    info = json.loads((tissue / "synth.json").read_text())
    r = diam_px / 2
    assert (xy - r >= 0).all()
    assert (xy[:, 0] + r <= info["width_px"] - 1).all() and (xy[:, 1] + r <= info["height_px"] - 1).all()
    if platform == "visium":
        assert ((pos["array_row"] % 2) == (pos["array_col"] % 2)).all()
    sf = json.loads((out / "spatial" / "scalefactors_json.json").read_text())
    assert sf == {"spot_diameter_fullres": diam_px, "tissue_hires_scalef": 1.0}


def test_truth_counts_against_brute_force(tissue, visium_dir):
    cells = pd.read_parquet(tissue / "cells.parquet")
    truth = pd.read_csv(visium_dir / "spots_truth.csv", keep_default_na=False)
    d = np.hypot(cells["x_px"].to_numpy()[:, None] - truth["x_px"].to_numpy()[None],
                 cells["y_px"].to_numpy()[:, None] - truth["y_px"].to_numpy()[None])
    inside = d <= 55.0  # 55 µm / 0.5 µm/px / 2
    assert np.array_equal(truth["n_cells"], inside.sum(axis=0))
    for t in CELL_TYPES:
        assert np.array_equal(truth[f"n_{t}"], (inside & (cells["cell_type"].to_numpy() == t)[:, None]).sum(axis=0))
    assert np.array_equal(truth[[f"n_{t}" for t in CELL_TYPES]].sum(axis=1), truth["n_cells"])
    fr = truth.loc[truth["n_cells"] > 0, [f"frac_{t}" for t in CELL_TYPES]].sum(axis=1)
    assert np.allclose(fr, 1.0)
    ids = truth["cell_ids"].str.split(";").apply(lambda v: [c for c in v if c])
    assert all(sorted(i) == sorted(cells["cell_id"].to_numpy()[inside[:, j]]) for j, i in enumerate(ids))
    assert np.array_equal(truth["in_tissue"], (truth["n_cells"] > 0).astype(int))
    assert truth["n_cells"].sum() > 300


def test_matrix_holds_summed_cell_counts(tissue, visium_dir):
    from madcell.io.expression import read_10x_h5

    expr = ad.read_h5ad(tissue / "expression.h5ad")
    truth = pd.read_csv(visium_dir / "spots_truth.csv", keep_default_na=False)
    m = read_10x_h5(visium_dir / "filtered_feature_bc_matrix.h5")
    assert list(m.obs_names) == list(truth.loc[truth["in_tissue"] == 1, "barcode"])
    assert list(m.var_names) == list(expr.var_names)
    for bc, ids in zip(truth["barcode"], truth["cell_ids"]):
        if ids:
            want = np.asarray(expr[ids.split(";")].X).sum(axis=0)
            assert np.array_equal(m[bc].X.toarray().ravel(), want)


def test_make_spots_bad_inputs(tmp_path, tissue):
    with pytest.raises(InputError, match="synth.json"):
        make_spots(tmp_path, "visium")
    with pytest.raises(InputError, match="--spots"):
        make_spots(tissue, "slide-seq")


def test_synth_cli_spots(tmp_path):
    from madcell.cli import app

    out = tmp_path / "s"
    res = CliRunner().invoke(app, ["synth", "--out", str(out), "--cells", "300", "--seed", "1", "--modality", "he",
                                   "--spots", "visium"])
    assert res.exit_code == 0, res.output
    assert (out / "spots_visium" / "filtered_feature_bc_matrix.h5").is_file()
    res = CliRunner().invoke(app, ["synth", "--out", str(tmp_path / "x"), "--cells", "10", "--spots", "hd"])
    assert res.exit_code == 2 and "--spots" in res.output
    assert not (tmp_path / "x").exists()
