"""`madcell run` on an H&E + spots folder: segment -> prepare -> pretrain -> embed -> baselines -> pool ->
spot scores -> spot niches -> report, cached; and the spot niche distillation on its own."""

from __future__ import annotations

import json

import anndata as ad
import numpy as np
import pytest
from typer.testing import CliRunner

from madcell.cli import app
from madcell.spots import read_spots
from madcell.spots.niche import run_spot_niche
from madcell.spots.pool import pool_to_spots
from madcell.synthetic import make_tissue
from madcell.synthetic.spots import make_spots

SETS = ["--set", "prepare.morph_size=28", "--set", "prepare.micro_size=56", "--set", "augment.morph_size=28",
        "--set", "augment.micro_size=56", "--set", "augment.local_size_morph=14", "--set", "augment.local_size_micro=28",
        "--set", "evaluate.bootstrap=30", "--set", "evaluate.n_folds=3", "--set", "evaluate.seeds=[0]",
        "--set", "niche.bootstrap=50", "--set", "niche.max_epochs=5", "--set", "train.batch_size=16"]


@pytest.fixture(scope="module")
def he(tmp_path_factory):
    t = make_tissue(tmp_path_factory.mktemp("he_run"), 2500, 5, modality="he")
    return t, make_spots(t, "visium")


def test_run_on_he_and_spots_end_to_end(he, tmp_path, one_thread):
    tissue, spots_dir = he
    cmd = ["run", str(spots_dir), "--out", str(tmp_path / "out"), "--option", f"image={tissue / 'image.ome.tif'}",
           "--steps", "50", "--baselines", "pca", "--k-niches", "3", "--no-progress", *SETS]
    res = CliRunner().invoke(app, cmd)
    assert res.exit_code == 0, res.output
    out = tmp_path / "out"
    seg = json.loads((out / "segment" / "segment.json").read_text())
    truth = len(__import__("pandas").read_parquet(tissue / "cells.parquet"))
    assert 0.8 * truth < seg["n_cells"] < 1.2 * truth  # the H&E segmenter finds about as many cells as there are
    spots = ad.read_h5ad(out / "spots.h5ad")
    assert {"X_mad", "X_mad_morph", "X_mad_micro", "X_pca"} <= set(spots.obsm)
    summary = __import__("pandas").read_csv(out / "spot_eval" / "summary.csv")
    assert set(summary["embedding"]) >= {"X_mad", "X_mad_morph", "X_mad_micro", "X_pca"}
    niche = json.loads((out / "spot_niche" / "metrics.json").read_text())
    assert {"student", "cells_kmeans", "spots_kmeans"} <= set(niche["methods"]) and niche["k_niches"] == 3
    report = (out / "report" / "report.md").read_text()
    assert "figures/segmentation.png" in report and (out / "report" / "figures" / "segmentation.png").stat().st_size > 0
    assert "Spots matched" in report and "ARI" in report
    again = CliRunner().invoke(app, cmd)  # everything cached
    assert again.exit_code == 0 and again.output.count("cached") >= 8, again.output
    other = CliRunner().invoke(app, [*cmd[:-len(SETS) - 1], "--no-progress", *SETS, "--niche-source", "composition"])
    assert other.exit_code == 2 and "other settings" in other.output


def test_spot_input_needs_its_image(he, tmp_path):
    _, spots_dir = he
    res = CliRunner().invoke(app, ["run", str(spots_dir), "--out", str(tmp_path / "o"), "--no-progress"])
    assert res.exit_code == 2 and "image" in res.output
    assert not (tmp_path / "o" / "store.h5").exists()
    res = CliRunner().invoke(app, ["run", str(spots_dir), "--out", str(tmp_path / "f"), "--baselines", "pca,frozen"])
    assert res.exit_code == 2 and "--frozen-weights" in res.output  # never downloaded
    res = CliRunner().invoke(app, ["run", str(spots_dir), "--out", str(tmp_path / "f"), "--frozen-weights",
                                   str(tmp_path / "none.safetensors")])
    assert res.exit_code == 2 and "does not exist" in res.output


def test_student_scored_on_held_out_spots_against_baselines(he, one_thread):
    """A cell 'embedding' that is the truth (one-hot cell type + noise): the student must recover spot niches
    of composition at least as well as clustering the same features."""
    tissue, spots_dir = he
    import pandas as pd

    cells_t = pd.read_parquet(tissue / "cells.parquet")
    rng = np.random.default_rng(0)
    onehot = pd.get_dummies(cells_t["cell_type"]).to_numpy(np.float32)
    cells = ad.AnnData(obs=pd.DataFrame({"x_px": cells_t["x_px"].to_numpy(), "y_px": cells_t["y_px"].to_numpy(),
                                         "slide": "s"}, index=cells_t["cell_id"].astype(str).to_numpy()))
    cells.obsm["X_truth"] = onehot + rng.normal(0, 0.3, onehot.shape).astype(np.float32)
    cells.obsm["spatial"] = cells_t[["x_px", "y_px"]].to_numpy() * 0.5
    cells.uns["madcell"] = {"embedding_key": "X_truth"}
    s = read_spots(spots_dir)
    from madcell.synthetic.spots import read_spot_truth

    s.add_labels(*read_spot_truth(spots_dir))
    pooled = pool_to_spots(cells, s, radius_factor=1.5)
    _, m = run_spot_niche(cells, pooled, {"k_niches": 3, "bootstrap": 200, "max_epochs": 40, "seed": 0}, "composition")
    assert m["n_cells_without_spot"] > 0 and sum(m["student_niche_sizes_without_spot"]) == m["n_cells_without_spot"]
    stu = m["methods"]["student"]["ari"]
    assert stu["lo"] <= stu["value"] <= stu["hi"]
    assert stu["value"] > 0.2  # composition niches are learnable from cell types around the spot
    assert set(m["methods"]) == {"student", "cells_kmeans", "cells_gmm", "cells_nbr_gmm", "spots_kmeans"}
