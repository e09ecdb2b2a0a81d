"""``madcell predict`` on the real pancreas crop: decoders and a niche student fit on one part of the
section predict the other part from its images alone, scored against that part's measurements."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pytest
from typer.testing import CliRunner

from madcell.cli import app
from madcell.config import load_config
from madcell.models import export_teacher
from madcell.models.multiview import build_multiview

REAL = __import__("pathlib").Path(__file__).resolve().parents[2].parent / "shared" / "data" / "xenium_pancreas_crop"
TINY = {"model": {"arch": "custom", "embed_dim": 48, "depth": 2, "num_heads": 3, "layer_scale": None},
        "head": {"n_layers": 2, "hidden_dim": 32, "bottleneck_dim": 16, "out_dim": 64},
        "augment": {"morph_size": 28, "micro_size": 56}}
PREP = ["--set", "prepare.morph_size=28", "--set", "prepare.micro_size=56", "--set", "prepare.k_neighbors=8",
        "--set", "prepare.stats_sample_pixels=20000", "--no-progress"]

pytestmark = [pytest.mark.usefixtures("one_thread"),
              pytest.mark.skipif(not REAL.exists(), reason="../shared/data/xenium_pancreas_crop not present")]


def _ok(res):
    assert res.exit_code == 0, res.output
    return res.output


def test_predict_held_out_part_of_the_real_section(tmp_path):
    r = CliRunner()
    store = tmp_path / "store.h5"
    # one strip of the section (region_um keeps the cells whose centroid lies in the box)
    _ok(r.invoke(app, ["prepare", str(REAL), "--out", str(store), "--option", "region_um=[400, 450, 800, 600]", *PREP]))
    cfg = load_config(None, TINY)
    from madcell.data.store import ViewStore

    vs = ViewStore(store)
    export_teacher(build_multiview(cfg, vs.n_channels), cfg, vs.channel_names, tmp_path / "run" / "export",
                   store_sizes=(vs.morph_size, vs.micro_size))  # a frozen untrained ViT: the plumbing, not the model
    _ok(r.invoke(app, ["embed", str(store), "--run", str(tmp_path / "run"), "--out", str(tmp_path / "emb.h5ad")]))
    emb = ad.read_h5ad(tmp_path / "emb.h5ad")
    x = emb.obsm["spatial"][:, 0]
    left, right = emb[x < 600].copy(), emb[x >= 600].copy()
    left.write_h5ad(tmp_path / "left.h5ad")
    right.write_h5ad(tmp_path / "right.h5ad")
    # genes: the 20 most variable (log1p) of the training part
    var = np.log1p(np.asarray(left.X.todense() if hasattr(left.X, "todense") else left.X)).var(0)
    genes = list(left.var_names[np.argsort(var)[::-1][:20]])
    _ok(r.invoke(app, ["decode", str(tmp_path / "left.h5ad"), "--label", "xenium_graphclust", "--genes", ",".join(genes),
                       "--out", str(tmp_path / "left_dec.h5ad"), "--decoders-dir", str(tmp_path / "dec"),
                       "--set", "decode.max_epochs=40", "--set", "decode.cross_fit=0"]))
    _ok(r.invoke(app, ["niche", str(tmp_path / "left.h5ad"), "--cell-type-col", "xenium_graphclust", "--student", "mlp",
                       "--k-niches", "4", "--out", str(tmp_path / "niche"), "--set", "max_epochs=20"]))
    out = _ok(r.invoke(app, ["predict", str(tmp_path / "right.h5ad"), "--decoders", str(tmp_path / "dec"),
                             "--niche-student", str(tmp_path / "niche" / "student"), "--out", str(tmp_path / "pred.h5ad")]))
    p = ad.read_h5ad(tmp_path / "pred.h5ad")
    assert p.n_obs == right.n_obs and list(p.var_names) == genes and p.X.shape == (right.n_obs, 20)
    assert set(p.obs["pred_xenium_graphclust"].astype(str)) <= set(left.obs["xenium_graphclust"].dropna().astype(str))
    assert p.obs["student_niche"].notna().all() and p.obsm["student_niche_proba"].shape == (right.n_obs, 4)
    assert p.uns["madcell_predict"]["space"].startswith("log1p")
    # the printed score is the per-gene Pearson of X against the held-out measurement, recomputed here
    Y = np.log1p(np.asarray(right[:, genes].X.todense() if hasattr(right.X, "todense") else right[:, genes].X))
    np.testing.assert_allclose(p.layers["measured"], Y, rtol=1e-5, atol=1e-5)
    r_gene = [np.corrcoef(Y[:, j], p.X[:, j])[0, 1] for j in range(20)]
    np.testing.assert_allclose(p.uns["madcell_predict"]["scores"]["pearson"], r_gene, atol=1e-4)
    assert f"per-gene Pearson r mean {np.nanmean(r_gene):.3f}" in out
    # a store goes through embedding first (the same run), then the same predictions
    _ok(r.invoke(app, ["predict", str(store), "--run", str(tmp_path / "run"), "--decoders", str(tmp_path / "dec"),
                       "--out", str(tmp_path / "all.h5ad")]))
    q = ad.read_h5ad(tmp_path / "all.h5ad")
    np.testing.assert_allclose(q[p.obs_names].X, p.X, atol=1e-4)
    bad = r.invoke(app, ["predict", str(store), "--decoders", str(tmp_path / "dec"), "--out", str(tmp_path / "x.h5ad")])
    assert bad.exit_code == 2 and "--run" in bad.output
