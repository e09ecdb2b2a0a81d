"""``madcell analyze``: clusters, DE on measured and predicted expression, concordance, gene sets,
pseudotime — each checked on planted structure, and every figure's plotted content."""

from __future__ import annotations

import json

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from madcell.analysis.concordance import de_concordance
from madcell.analysis.genesets import read_gmt, score_gene_sets
from madcell.analysis.pipeline import run_analysis
from madcell.cli import app
from madcell.errors import InputError
from madcell.evaluate.synthetic import make_embedding_anndata

pytestmark = pytest.mark.usefixtures("one_thread")


def _planted(n=300):
    """Four planted types; GENE0 marks type_0, GENE1 type_1; a spatial gradient along x drives GENE2."""
    a = make_embedding_anndata(n=n, dim=8, n_genes=12, signal=4.0, n_slides=1)
    rng = np.random.default_rng(0)
    X = np.asarray(a.X, np.float32).copy()
    t = a.obs["cell_type"].astype(str).to_numpy()
    X[t == "type_0", 0] += 40
    X[t == "type_1", 1] += 40
    x = a.obsm["spatial"][:, 0]
    X[:, 2] = rng.poisson(1 + 30 * (x - x.min()) / np.ptp(x))
    a.X = X
    return a


def test_gmt_reading_and_bad_files(tmp_path):
    p = tmp_path / "sets.gmt"
    p.write_text("MARK0\tdesc\tGENE0\tGENE3\nMARK1\thttp://x\tGENE1\tGENE4\tGENE5\n")
    assert read_gmt(p) == {"MARK0": ["GENE0", "GENE3"], "MARK1": ["GENE1", "GENE4", "GENE5"]}
    bad = tmp_path / "bad.gmt"
    bad.write_text("MARK0 GENE0 GENE1\n")
    with pytest.raises(InputError, match="line 1 is not GMT") as exc:
        read_gmt(bad)
    assert "bad.gmt" in str(exc.value)


def test_gene_set_scores_follow_the_planted_marker():
    a = _planted()
    df, skipped = score_gene_sets(a, {"m0": ["GENE0", "GENE3"], "none": ["NOPE1", "NOPE2"]})
    assert skipped == ["none"] and list(df.columns) == ["gs_m0"]
    t = a.obs["cell_type"].astype(str).to_numpy()
    assert df["gs_m0"][t == "type_0"].mean() > df["gs_m0"][t != "type_0"].mean() + 0.5


def test_concordance_of_identical_and_of_shuffled_tables():
    from madcell.analysis.expression import differential_expression

    a = _planted()
    m = differential_expression(a, "cell_type")
    same = de_concordance(m, m)
    assert np.allclose(same["lfc_pearson"], 1.0) and (same["jaccard"].fillna(1.0) == 1.0).all()
    shuffled = m.assign(logfoldchanges=np.random.default_rng(0).permutation(m["logfoldchanges"].to_numpy()))
    assert de_concordance(m, shuffled)["lfc_pearson"].abs().max() < 0.9


def test_run_analysis_on_planted_structure(tmp_path):
    from sklearn.metrics import adjusted_rand_score

    from madcell.config import load_config
    from madcell.decode import decode_anndata

    a = _planted()
    decode_anndata(a, [], "all", load_config(overrides={"decode": {"max_epochs": 30, "patience": 5, "cross_fit": 3}}))
    res = run_analysis(a, method="louvain", resolution=0.5, gene_sets={"m0": ["GENE0", "GENE3"], "m1": ["GENE1", "GENE4"]},
                       root="cell_type=type_0", log=lambda m: None)
    s, t = res["summary"], res["tables"]
    assert adjusted_rand_score(a.obs["cell_type"], a.obs[s["cluster_column"]]) > 0.8
    top = t["de_measured"].sort_values("scores", ascending=False).groupby("group", observed=True).head(1)
    assert {"GENE0", "GENE1"} <= set(top["names"])  # the planted markers lead two clusters
    assert t["de_concordance"]["lfc_pearson"].median() > 0.5  # the decoders carry the markers
    assert s["de_predicted_in_sample"] is False and s["de_space"] == "log1p"
    assert {"m0", "m1"} == set(t["enrichment"]["gene_set"]) and {"gs_m0", "gs_m1"} <= set(a.obs)
    dpt = a.obs[s["pseudotime"]["column"]].to_numpy(float)
    # the root's own type is reached; cells of a separate graph component are NaN (counted), never inf
    assert np.isfinite(dpt[a.obs["cell_type"] == "type_0"]).all() and not np.isinf(dpt).any()
    assert s["pseudotime"]["unreachable"] == int(np.isnan(dpt).sum())
    assert -1 <= s["pseudotime"]["spearman_vs_expression"] <= 1


def test_cli_analyze_writes_anndata_tables_figures(tmp_path):
    import matplotlib.image as mpimg

    a = _planted(200)
    a.write_h5ad(tmp_path / "emb.h5ad")
    (tmp_path / "s.gmt").write_text("m0\t-\tGENE0\tGENE3\n")
    res = CliRunner().invoke(app, ["analyze", str(tmp_path / "emb.h5ad"), "--out", str(tmp_path / "an"),
                                   "--method", "louvain", "--resolution", "0.5", "--gmt", str(tmp_path / "s.gmt"),
                                   "--root", "cell_type=type_0"])
    assert res.exit_code == 0, res.output
    out = tmp_path / "an"
    b = ad.read_h5ad(out / "analysis.h5ad")
    assert "louvain_X_planted" in b.obs and "X_umap_X_planted" in b.obsm and "gs_m0" in b.obs
    assert (out / "de_measured.csv").exists() and (out / "enrichment.csv").exists()
    md = (out / "analysis.md").read_text()
    for fig in ("clusters.png", "volcano_measured.png", "gene_set_scores.png", "pseudotime.png"):
        assert f"figures/{fig}" in md and mpimg.imread(out / "figures" / fig).shape[0] > 300
    assert "predicted-vs-measured DE: no layers['pred_expression']" in res.output  # said, not silent
    bad = CliRunner().invoke(app, ["analyze", str(tmp_path / "emb.h5ad"), "--out", str(tmp_path / "x"), "--root", "nope=1"])
    assert bad.exit_code == 2 and "nope" in bad.output


def test_volcano_and_concordance_figures_plot_the_tables(tmp_path):
    from madcell.analysis.expression import differential_expression
    from madcell.report.analysis import plot_lfc_concordance, plot_volcanos
    from madcell.report.figures import plt

    a = _planted()
    de = differential_expression(a, "cell_type")
    captured = {}
    orig = plt.Figure.savefig

    def grab(fig, *args, **kw):
        captured["fig"] = fig
        return orig(fig, *args, **kw)

    plt.Figure.savefig = grab
    try:
        plot_volcanos(de, "t", tmp_path / "v.png")
        axes = [ax for ax in captured["fig"].axes if ax.get_visible()]
        assert len(axes) == 4 and axes[0].get_xlabel() == "log2 fold change" and axes[0].get_ylabel() == "-log10 adj. p"
        g = axes[0].get_title().split(" vs ")[0]
        pts = axes[0].collections[0].get_offsets()
        d = de[de["group"].astype(str) == g]
        np.testing.assert_allclose(np.sort(pts[:, 0]), np.sort(d["logfoldchanges"].to_numpy(float)), rtol=1e-5)
        conc = de_concordance(de, de)
        plot_lfc_concordance(de, de, conc, tmp_path / "c.png")
        ax = captured["fig"].axes[0]
        assert ax.get_xlabel() == "log2 FC, measured" and ax.get_title().endswith("r = 1.00")
    finally:
        plt.Figure.savefig = orig
