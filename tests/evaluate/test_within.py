"""Scoring a label within the groups of another: per group, mean over groups, same bootstrap weights."""

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from madcell.cli import app
from madcell.config import load_config
from madcell.errors import InputError
from madcell.evaluate import evaluate_anndata, write_metrics
from madcell.evaluate.samples import read_samples
from madcell.evaluate.synthetic import make_embedding_anndata
from madcell.report.tables import format_metric_table

FAST = {"bootstrap": 60, "seeds": [0], "n_folds": 3, "neighbors_method": "gauss", "mlp_probe": False}


pytestmark = pytest.mark.usefixtures("one_thread")


def _tissue(n=600, seed=0):
    """Types A/B/C by the first dims; within A the subtype follows dim 5 (learnable), within B it is
    random (not learnable); C has a single subtype; D has 5 cells."""
    a = make_embedding_anndata(n=n, n_types=3, dim=8, n_genes=0, seed=seed)
    rng = np.random.default_rng(seed)
    t = a.obs["cell_type"].astype(str).map({"type_0": "A", "type_1": "B", "type_2": "C"}).to_numpy().astype(object)
    t[:5] = "D"
    X = a.obsm["X_planted"]
    sub = np.where(t == "A", np.where(X[:, 5] > np.median(X[t == "A", 5]), "A_x", "A_y"),
                   np.where(t == "B", rng.choice(["B_x", "B_y"], n), t + "_only"))
    sub[t == "A"] = np.where(rng.random((t == "A").sum()) < 0.1, "A_prolif", sub[t == "A"])
    X[:, 5] *= 4.0  # make the within-A signal visible to cosine kNN
    a.obs["cell_type"] = pd.Categorical(t)
    a.obs["subtype"] = pd.Categorical(sub)
    return a


def test_within_scores_each_group_and_their_mean(tmp_path):
    a = _tissue()
    res = evaluate_anndata(a, ["cell_type", "subtype"], "none", {"evaluate": FAST}, within={"subtype": "cell_type"},
                           within_classes={"subtype": ["A_x", "A_y", "B_x", "B_y"]})
    w = res["labels"]["subtype"]["within_cell_type"]
    assert set(w["groups"]) == {"A", "B"} and set(w["skipped"]) == {"C", "D"} and w["n_groups"] == 2
    A, B = w["groups"]["A"], w["groups"]["B"]
    assert A["knn"]["accuracy"]["mean"] > 0.7 and B["knn"]["accuracy"]["mean"] < 0.65
    assert w["knn"]["accuracy"]["mean"] == pytest.approx((A["knn"]["accuracy"]["mean"] + B["knn"]["accuracy"]["mean"]) / 2)
    assert w["knn"]["accuracy"]["lo"] <= w["knn"]["accuracy"]["mean"] <= w["knn"]["accuracy"]["hi"]
    sel = res["labels"]["subtype"]["within_cell_type_selected"]
    assert sel["classes"] == ["A_x", "A_y", "B_x", "B_y"] and set(sel["groups"]["A"]["classes"]) == {"A_x", "A_y"}
    assert sel["groups"]["A"]["n_cells"] < A["n_cells"]  # the A_prolif cells are left out
    assert "within_cell_type" not in res["labels"]["cell_type"]  # the grouping column itself is not grouped
    write_metrics(res, tmp_path)
    _, samples = read_samples(tmp_path)
    p, sm = samples["labels.subtype.within_cell_type.knn.accuracy"]
    assert p == pytest.approx(w["knn"]["accuracy"]["mean"]) and sm.shape == (FAST["bootstrap"],)
    assert "labels.subtype.within_cell_type.groups.A.linear.balanced_accuracy" in samples
    table = format_metric_table({"planted": json.loads((tmp_path / "metrics.json").read_text())})
    assert "kNN acc within cell_type" in table and "A kNN" in table and "chance per group: A" in table


def test_same_cells_give_the_same_bootstrap_fingerprint(tmp_path):
    a = _tissue(n=300)
    b = a.copy()
    b.obsm["X_planted"] = np.random.default_rng(5).normal(size=b.obsm["X_planted"].shape).astype(np.float32)
    for name, ad_ in (("a", a), ("b", b)):
        write_metrics(evaluate_anndata(ad_, ["subtype"], "none", {"evaluate": FAST}, within={"subtype": "cell_type"}),
                      tmp_path / name)
    fa, _ = read_samples(tmp_path / "a")
    fb, _ = read_samples(tmp_path / "b")
    assert fa == fb
    c = a[::-1].copy()  # other cell order -> other resamples: not pairable
    write_metrics(evaluate_anndata(c, ["subtype"], "none", {"evaluate": FAST}), tmp_path / "c")
    assert read_samples(tmp_path / "c")[0] != fa


def test_within_bad_input():
    a = _tissue(n=200)
    with pytest.raises(InputError, match="grouping column"):
        evaluate_anndata(a, ["subtype"], "none", {"evaluate": FAST}, within={"subtype": "nope"})
    with pytest.raises(InputError, match="not among the scored labels"):
        evaluate_anndata(a, ["cell_type"], "none", {"evaluate": FAST}, within={"subtype": "cell_type"})


def test_cli_within(tmp_path):
    _tissue(n=300).write_h5ad(tmp_path / "emb.h5ad")
    sets = [x for k, v in FAST.items() for x in ("--set", f"evaluate.{k}={json.dumps(v)}")]
    res = CliRunner().invoke(app, ["evaluate", str(tmp_path / "emb.h5ad"), "--label", "cell_type", "--label", "subtype",
                                   "--within", "cell_type", "--within-classes", "A_x,A_y,B_x,B_y", "--genes", "none",
                                   "--out", str(tmp_path / "ev"), *sets])
    assert res.exit_code == 0, res.output
    m = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert "within_cell_type_selected" in m["labels"]["subtype"] and "within_cell_type" not in m["labels"]["cell_type"]
    assert (tmp_path / "ev" / "bootstrap.npz").exists() and "within cell_type" in res.output
