"""Report: metric tables by hand, a rendered report (md + html) with readable PNGs, the CLI."""

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from typer.testing import CliRunner

from madcell.cli import app
from madcell.config import load_config
from madcell.evaluate import evaluate_anndata, write_metrics
from madcell.evaluate.synthetic import make_embedding_anndata
from madcell.report import build_report, fmt_ci, format_metric_table


pytestmark = pytest.mark.usefixtures("one_thread")


def _cfg():
    return load_config(overrides={"evaluate": {"bootstrap": 50, "seeds": [0], "n_folds": 3, "neighbors_method": "gauss",
                                               "mlp_probe": False},
                                  "decode": {"max_epochs": 15, "patience": 3, "batch_size": 64}})


def test_format_metric_table_by_hand():
    ci = lambda m: {"mean": m, "lo": m - 0.01, "hi": m + 0.02}  # noqa: E731
    res = {"MAD": {"labels": {"cell_type": {"kmeans": {"ari": ci(0.5)}, "knn": {"accuracy": ci(0.9)}}},
                   "retrieval": {"recall@1": ci(0.3), "chance@1": 0.001}},
           "PCA": {"labels": {"cell_type": {"kmeans": {"ari": ci(0.25)}}}}}
    text = format_metric_table(res)
    assert "| method | k-means ARI | kNN acc |" in text
    assert "| MAD | 0.500 [0.490, 0.520] | 0.900 [0.890, 0.920] |" in text
    assert "| PCA | 0.250 [0.240, 0.270] | – |" in text
    assert "R@1 = 0.0010" in text and "| PCA | – |" in text
    assert fmt_ci(None) == "–" and fmt_ci({"mean": 1.0, "lo": 0.5, "hi": 1.0}, 1) == "1.0 [0.5, 1.0]"


@pytest.fixture(scope="module")
def two_methods():
    cfg = _cfg()
    out = {}
    for i, (name, sig) in enumerate([("MAD", 3.0), ("PCA", 1.0)]):
        a = make_embedding_anndata(n=240, n_genes=6, signal=sig, method=name, seed=i)
        a.obsm["X_umap_X_planted"] = a.obsm["X_planted"][:, :2]  # skip UMAP's JIT here (tested in analysis)
        out[name] = {"adata": a, "metrics": evaluate_anndata(a, ["cell_type"], "all", cfg)}
    return out


@pytest.mark.parametrize("fmt", ["md", "html"])
def test_build_report(tmp_path, two_methods, fmt):
    log = tmp_path / "metrics.csv"
    # the long format MetricLog writes (step, epoch, name, value)
    pd.DataFrame({"step": [10, 20, 20, 0, 20], "epoch": 0, "name": ["train/loss", "train/loss", "train/lr", "eval/recall@5",
                                                                   "eval/recall@5"],
                  "value": [3.0, 2.0, 1e-4, 0.01, 0.02]}).to_csv(log, index=False)
    path = build_report(two_methods, tmp_path / "rep", ["cell_type"], training_logs={"MAD": log}, fmt=fmt, cfg=_cfg())
    assert path.name == f"report.{fmt}" and path.exists()
    text = path.read_text()
    figs = sorted(p.name for p in (tmp_path / "rep" / "figures").glob("*.png"))
    assert figs == ["gene_scatter_MAD_vs_PCA.png", "per_gene_pearson.png", "spatial_cell_type_MAD.png",
                    "spatial_genes_MAD.png", "training_curves.png", "umap.png"]
    for f in figs:
        assert f"figures/{f}" in text
        with Image.open(tmp_path / "rep" / "figures" / f) as im:
            assert im.format == "PNG" and min(im.size) >= 400  # 150 dpi, no postage stamps
    assert ("<table>" in text) if fmt == "html" else ("| MAD |" in text)
    assert "out-of-fold" in (tmp_path / "rep" / "report.md").read_text()


def test_cli_report(tmp_path, two_methods):
    folders = []
    for name, entry in two_methods.items():
        d = tmp_path / name
        write_metrics(entry["metrics"], d)
        entry["adata"].write_h5ad(d / "emb.h5ad")
        folders.append(str(d))
    res = CliRunner().invoke(app, ["report", *folders, "--out", str(tmp_path / "rep"), "--format", "html",
                                   "--set", "decode.max_epochs=5", "--set", "evaluate.n_folds=2"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "rep" / "report.html").exists() and (tmp_path / "rep" / "report.md").exists()
    res = CliRunner().invoke(app, ["report", str(tmp_path / "missing"), "--out", str(tmp_path / "r2")])
    assert res.exit_code == 2 and "not a folder" in res.output


def test_umap_legends_do_not_overlap_and_per_gene_bars_stay_readable(tmp_path):
    """The issue's umap.png (legends of neighbouring columns overlapping) and per_gene_pearson.png
    (6040 x 617 px with many methods) — checked on what matplotlib drew."""
    import matplotlib.pyplot as plt
    import numpy as np
    import pandas as pd
    from PIL import Image

    from madcell.report import figures

    rng = np.random.default_rng(0)
    n = 300
    obs = pd.DataFrame({"cluster": [f"graph_cluster_{i % 26}" for i in range(n)], "cell_type": [f"t{i % 5}" for i in range(n)]})
    coords = {m: rng.normal(size=(n, 2)) for m in ("mad", "morph", "micro")}
    drawn = {}
    orig = figures._save

    def keep(fig, path):
        fig.canvas.draw()
        drawn[path.name] = [lg.get_window_extent() for ax in fig.axes if (lg := ax.get_legend())]
        drawn[path.name + "_fig"] = fig.bbox
        return orig(fig, path)

    figures._save = keep
    try:
        figures.plot_umaps(coords, {m: obs for m in coords}, ["cluster", "cell_type"], tmp_path / "umap.png")
        a, b = drawn["umap.png"]
        assert a.x1 <= b.x0 or b.x1 <= a.x0  # side by side, not on top of each other
        genes = [f"G{i}" for i in range(377)]
        per_gene = {f"m{k}": pd.DataFrame({"gene": genes, "pearson": rng.random(377), "pearson_lo": 0.0, "pearson_hi": 1.0})
                    for k in range(12)}
        figures.plot_per_gene_bars(per_gene, tmp_path / "pg.png")
    finally:
        figures._save = orig
    w, h = Image.open(tmp_path / "pg.png").size
    assert w <= 14 * 150 + 400 and w / h < 5  # was 6040 x 617
    plt.close("all")


def test_report_of_an_evaluation_folder_finds_its_anndata_and_works_without_labels(tmp_path):
    """`madcell evaluate emb.h5ad --out eval; madcell report eval --out rep`: the UMAP and the maps used
    to be silently missing (no .h5ad in eval/), and with no label there was no UMAP at all."""
    a = make_embedding_anndata(n=160, n_genes=3)
    del a.obs["cell_type"]  # the usual case on a new slide: no labels
    a.write_h5ad(tmp_path / "emb.h5ad")
    r = CliRunner()
    res = r.invoke(app, ["evaluate", str(tmp_path / "emb.h5ad"), "--out", str(tmp_path / "eval"), "--genes", "none",
                         "--set", "evaluate.bootstrap=30", "--set", "evaluate.seeds=[0]"])
    assert res.exit_code == 0, res.output
    res = r.invoke(app, ["report", str(tmp_path / "eval"), "--out", str(tmp_path / "rep")])
    assert res.exit_code == 0, res.output
    md = (tmp_path / "rep" / "report.md").read_text()
    assert "figures/umap.png" in md and "Leiden clusters" in md and "figures/spatial_clusters_" in md
    figs = sorted(p.name for p in (tmp_path / "rep" / "figures").iterdir())
    assert "umap.png" in figs and any(f.startswith("spatial_clusters_") for f in figs)
