"""End to end: evaluate_anndata on a planted-signal AnnData, write_metrics, and the CLI."""

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from madcell.cli import app
from madcell.config import load_config
from madcell.evaluate import evaluate_anndata, flatten_metrics, write_metrics
from madcell.evaluate.cca import canonical_corr_fn, fit_cca
from madcell.evaluate.synthetic import make_embedding_anndata

FAST = {"bootstrap": 100, "seeds": [0], "n_folds": 3, "neighbors_method": "gauss"}


pytestmark = pytest.mark.usefixtures("one_thread")


def _cfg():
    return load_config(overrides={"evaluate": FAST, "decode": {"max_epochs": 40, "patience": 5, "batch_size": 64}})


def _leaves(node, path=""):
    if isinstance(node, dict) and {"mean", "lo", "hi"} <= set(node):
        yield path, node
    elif isinstance(node, dict):
        for k, v in node.items():
            yield from _leaves(v, f"{path}.{k}")


def test_evaluate_recovers_planted_structure(tmp_path):
    a = make_embedding_anndata(n=360, n_genes=8, n_slides=2)
    a.obs["noise_label"] = pd.Categorical(np.random.default_rng(0).choice(["u", "v"], a.n_obs))
    res = evaluate_anndata(a, ["cell_type", "noise_label"], "all", _cfg())
    ct, nz = res["labels"]["cell_type"], res["labels"]["noise_label"]
    assert ct["kmeans"]["ari"]["mean"] > 0.9 and ct["knn"]["balanced_accuracy"]["mean"] > 0.9
    assert ct["linear"]["accuracy"]["mean"] > 0.9 and ct["mlp"]["balanced_accuracy"]["mean"] > 0.9
    assert nz["knn"]["balanced_accuracy"]["mean"] < 0.65  # a random label stays near chance
    assert res["split"]["kind"] == "spatial_block" and res["split"]["n_splits"] == 3
    r = res["retrieval"]
    assert r["recall@10"]["mean"] > 5 * r["chance@10"]
    assert res["genes"]["pearson"]["mean"] > 0.5 and len(res["genes"]["per_gene"]["gene"]) == 8
    assert res["cca"]["mean_corr"]["mean"] > res["cca"]["null_mean_corr"]["hi"]
    assert res["cca"]["centroids"]["cell_type"]["top1"]["mean"] > 0.7
    assert len(res["heterogeneity"]["mse_by_bin"]["mean"]) == 4 and res["heterogeneity"]["patch"] == "window"
    for path, leaf in _leaves(res):
        m, lo, hi = (np.atleast_1d(np.asarray(leaf[k], dtype=float)) for k in ("mean", "lo", "hi"))
        ok = np.isfinite(m)
        assert np.all(lo[ok] <= m[ok] + 1e-9) and np.all(m[ok] <= hi[ok] + 1e-9), path
    write_metrics(res, tmp_path)
    assert json.loads((tmp_path / "metrics.json").read_text())["method"] == "planted"
    csv = pd.read_csv(tmp_path / "metrics.csv")
    assert "labels.cell_type.knn.accuracy" in set(csv["metric"]) and len(csv) == len(flatten_metrics(res))
    assert list(pd.read_csv(tmp_path / "per_gene.csv").columns[:3]) == ["gene", "pearson", "pearson_lo"]


def test_cca_heldout_beats_shuffled():
    rng = np.random.default_rng(0)
    z = rng.normal(size=(400, 3))
    E = np.hstack([z, rng.normal(size=(400, 20))]) @ rng.normal(size=(23, 23))
    G = np.hstack([z, rng.normal(size=(400, 10))]) @ rng.normal(size=(13, 13))
    te, tg = fit_cca(E[:300], G[:300], 50, 30, 3)
    U, V = te(E[300:]), tg(G[300:])
    corr = canonical_corr_fn(U, V)(np.ones((1, 100)))[0]
    null = canonical_corr_fn(U, V[rng.permutation(100)])(np.ones((1, 100)))[0]
    assert corr.min() > 0.7 and np.abs(null).max() < 0.35


def test_evaluate_without_views_or_genes():
    a = make_embedding_anndata(n=200)
    del a.obsm["X_planted_morph"]
    res = evaluate_anndata(a, ["cell_type"], "none", _cfg())
    assert "retrieval" not in res and "genes" not in res and "cca" not in res


def test_cli_evaluate(tmp_path):
    a = make_embedding_anndata(n=200, n_genes=4)
    a.write_h5ad(tmp_path / "emb.h5ad")
    sets = [x for k, v in FAST.items() for x in ("--set", f"evaluate.{k}={json.dumps(v)}")]
    res = CliRunner().invoke(app, ["evaluate", str(tmp_path / "emb.h5ad"), "--label", "cell_type", "--out",
                                   str(tmp_path / "ev"), "--set", "decode.max_epochs=10", *sets])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "ev" / "metrics.json").exists() and "k-means ARI" in res.output
    res = CliRunner().invoke(app, ["evaluate", str(tmp_path / "emb.h5ad"), "--label", "nope", "--out", str(tmp_path / "x")])
    assert res.exit_code == 2 and "nope" in res.output


def test_collapsed_embedding_is_flagged_and_nan_is_an_error(tmp_path):
    from madcell.errors import InputError

    a = make_embedding_anndata(n=120, n_genes=0, signal=2.0, method="collapsed", seed=0)
    key = a.uns["madcell"]["embedding_key"]
    a.obsm[key] = np.ones_like(a.obsm[key])
    a.obsm[f"{key}_morph"] = a.obsm[f"{key}_micro"] = np.ones((a.n_obs, 4), np.float32)
    with pytest.warns(UserWarning, match="degenerate"):
        res = evaluate_anndata(a, ["cell_type"], None, _cfg())
    assert res["degenerate"] and res["n_distinct_rows"] == 1
    assert res["retrieval"]["recall@5"]["mean"] == 0.0  # ties never count as hits
    a.obsm[key][3, 0] = np.nan
    with pytest.raises(InputError, match="1 of 120 embedding rows are NaN"):
        evaluate_anndata(a, ["cell_type"], None, _cfg())
    b = make_embedding_anndata(n=120, n_genes=0, signal=2.0, method="fine", seed=0)
    assert not evaluate_anndata(b, ["cell_type"], None, _cfg())["degenerate"]


def test_cli_evaluate_and_decode_take_labels_from_a_file(tmp_path):
    """--labels FILE: a label the AnnData does not carry is scored (evaluate) and decoded (decode)."""
    a = make_embedding_anndata(n=200, n_genes=4)
    ann = pd.DataFrame({"cell_id": a.obs_names, "my_type": a.obs["cell_type"].astype(str).to_numpy()})
    del a.obs["cell_type"]
    a.write_h5ad(tmp_path / "emb.h5ad")
    ann.to_csv(tmp_path / "ann.csv", index=False)
    sets = [x for k, v in FAST.items() for x in ("--set", f"evaluate.{k}={json.dumps(v)}")]
    res = CliRunner().invoke(app, ["evaluate", str(tmp_path / "emb.h5ad"), "--labels", str(tmp_path / "ann.csv"),
                                   "--label", "my_type", "--genes", "none", "--out", str(tmp_path / "ev"),
                                   "--set", "decode.max_epochs=10", *sets])
    assert res.exit_code == 0, res.output
    assert "my_type for 200 of 200 cells" in res.output
    m = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert m["labels"]["my_type"]["knn"]["accuracy"]["mean"] > 0.5  # the planted types, read from the file
    res = CliRunner().invoke(app, ["decode", str(tmp_path / "emb.h5ad"), "--labels", str(tmp_path / "ann.csv"),
                                   "--label", "my_type", "--out", str(tmp_path / "dec.h5ad"),
                                   "--set", "decode.max_epochs=5"])
    assert res.exit_code == 0, res.output
    import anndata as ad

    assert "pred_my_type" in ad.read_h5ad(tmp_path / "dec.h5ad").obs


def test_too_few_cells_are_input_errors(tmp_path):
    a = make_embedding_anndata(n=5, n_genes=3)
    a.write_h5ad(tmp_path / "five.h5ad")
    for cmd in (["evaluate", str(tmp_path / "five.h5ad"), "--out", str(tmp_path / "ev")],
                ["decode", str(tmp_path / "five.h5ad"), "--genes", "all", "--out", str(tmp_path / "d.h5ad")]):
        res = CliRunner().invoke(app, cmd)
        assert res.exit_code == 2 and "has 5 cells" in res.output and "Traceback" not in res.output
    assert not (tmp_path / "ev").exists() and not (tmp_path / "d.h5ad").exists()
