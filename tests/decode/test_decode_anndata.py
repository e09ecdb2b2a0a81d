"""decode_anndata writes predictions back, saves decoders that apply_decoders reuses; the CLI works."""

import anndata as ad
import numpy as np
import pytest
from typer.testing import CliRunner

from madcell.cli import app
from madcell.config import load_config
from madcell.decode import apply_decoders, decode_anndata
from madcell.errors import InputError
from madcell.evaluate.synthetic import make_embedding_anndata


pytestmark = pytest.mark.usefixtures("one_thread")


def _cfg(**kw):
    cfg = load_config(overrides={"decode": {"max_epochs": 30, "patience": 5, "batch_size": 64, **kw}})
    return cfg


def test_decode_anndata_roundtrip(tmp_path):
    a = make_embedding_anndata(n=300, n_genes=6)
    out = decode_anndata(a, ["cell_type"], ["GENE0", "GENE2"], _cfg(cross_fit=0), decoders_dir=tmp_path / "dec")
    pred = out.obs["pred_cell_type"].astype(str).to_numpy()
    assert (pred == a.obs["cell_type"].astype(str).to_numpy()).mean() > 0.9
    assert out.obsm["pred_proba_cell_type"].shape == (300, 4)
    layer = out.layers["pred_expression"]
    assert np.isfinite(layer[:, [0, 2]]).all() and np.isnan(layer[:, [1, 3, 4, 5]]).all()
    info = out.uns["madcell_decode"]
    assert info["transform"] == "log1p" and info["in_sample"] and info["genes"] == ["GENE0", "GENE2"]
    fresh = make_embedding_anndata(n=300, n_genes=6)
    applied = apply_decoders(fresh, tmp_path / "dec")
    np.testing.assert_allclose(applied.layers["pred_expression"][:, [0, 2]], layer[:, [0, 2]], atol=1e-5)
    assert (applied.obs["pred_cell_type"] == out.obs["pred_cell_type"]).all()


def test_cross_fit_predictions_are_out_of_fold():
    a = make_embedding_anndata(n=240, n_genes=4, n_slides=1)
    out = decode_anndata(a, ["cell_type"], "all", _cfg(cross_fit=3))
    info = out.uns["madcell_decode"]
    assert info["in_sample"] is False
    # the recorded scores are those of the out-of-fold predictions
    y, pred = a.obs["cell_type"].astype(str).to_numpy(), out.obs["pred_cell_type"].astype(str).to_numpy()
    assert info["labels"]["cell_type"]["scores"]["accuracy"] == pytest.approx((y == pred).mean())
    Y = np.log1p(np.asarray(a.X, np.float64))
    r0 = np.corrcoef(Y[:, 0], out.layers["pred_expression"][:, 0])[0, 1]
    assert info["gene_scores"]["pearson"][0] == pytest.approx(r0, abs=1e-4)
    assert np.isfinite(out.layers["pred_expression"]).all()
    assert (out.obs["pred_cell_type"].astype(str) == a.obs["cell_type"].astype(str)).mean() > 0.8


def test_default_is_out_of_fold():
    """The default (decode.cross_fit 5) scores held-out cells; in-sample scores of the same decoder are
    at least as high (they flatter it), which is why they are not the default."""
    a = make_embedding_anndata(n=240, n_genes=4, n_slides=1)
    held = decode_anndata(a.copy(), ["cell_type"], "all", _cfg()).uns["madcell_decode"]
    ins = decode_anndata(a.copy(), ["cell_type"], "all", _cfg(cross_fit=0)).uns["madcell_decode"]
    assert held["cross_fit"] == 5 and held["in_sample"] is False and ins["in_sample"] is True
    assert ins["gene_scores"]["pearson_mean"] >= held["gene_scores"]["pearson_mean"] - 0.01


def test_bad_inputs_name_the_problem():
    a = make_embedding_anndata(n=50)
    with pytest.raises(InputError, match="obs has no column"):
        decode_anndata(a, ["nope"], None, _cfg())
    with pytest.raises(InputError, match="not in the AnnData"):
        decode_anndata(a, [], ["NOPE"], _cfg())


def test_cli_decode(tmp_path):
    a = make_embedding_anndata(n=200, n_genes=3)
    a.write_h5ad(tmp_path / "emb.h5ad")
    runner = CliRunner()
    res = runner.invoke(app, ["decode", str(tmp_path / "emb.h5ad"), "--label", "cell_type", "--genes", "all",
                              "--out", str(tmp_path / "pred.h5ad"), "--set", "decode.max_epochs=10"])
    assert res.exit_code == 0, res.output
    b = ad.read_h5ad(tmp_path / "pred.h5ad")
    assert "pred_cell_type" in b.obs and "pred_expression" in b.layers
    assert "held-out (5-fold out-of-fold predictions)" in res.output and "cell_type: accuracy" in res.output
    assert "Pearson r mean" in res.output
    assert (tmp_path / "pred_decoders" / "index.json").exists()
    res = runner.invoke(app, ["decode", str(tmp_path / "missing.h5ad"), "--label", "x", "--out", str(tmp_path / "o.h5ad")])
    assert res.exit_code == 2 and "does not exist" in res.output
