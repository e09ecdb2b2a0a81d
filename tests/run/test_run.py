"""``madcell run``: one command from a real vendor folder to a report, cached and resumable."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from madcell.cli import app

from pathlib import Path

REAL = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "xenium_pancreas_crop"
SMALL = ["--option", "region_um=[500, 500, 650, 650]", "--set", "prepare.morph_size=28", "--set", "prepare.micro_size=56",
         "--set", "prepare.k_neighbors=8", "--set", "prepare.stats_sample_pixels=20000",
         "--set", "model.embed_dim=48", "--set", "model.depth=2", "--set", "model.num_heads=3",
         "--set", "train.batch_size=32", "--set", "train.eval_cells=64", "--set", "train.min_steps=1",
         "--set", "evaluate.bootstrap=50", "--set", "evaluate.seeds=[0]", "--set", "decode.max_epochs=15",
         "--set", "decode.cross_fit=2", "--no-progress"]

pytestmark = [pytest.mark.usefixtures("one_thread"),
              pytest.mark.skipif(not REAL.exists(), reason="../shared/data/xenium_pancreas_crop not present")]


def test_run_real_xenium_to_report_and_resume(tmp_path):
    (tmp_path / "sets.gmt").write_text("EPI\t-\tEPCAM\tKRT8\tKRT18\tKRT19\nIMM\t-\tPTPRC\tCD3E\tCD68\tLYZ\n")
    out = tmp_path / "out"
    args = ["run", str(REAL), "--out", str(out), "--steps", "3", "--gmt", str(tmp_path / "sets.gmt"),
            "--root", "xenium_graphclust=1", *SMALL]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "labels used: xenium_graphclust" in res.output  # 10x's clusters, picked up without being asked
    report = (out / "report" / "report.md").read_text()
    for part in ("## Metrics", "xenium_graphclust", "Training curves", "UMAP", "## Analysis", "volcano_predicted.png",
                 "DE concordance", "gene-set scores", "pseudotime.png"):
        assert part in report, part
    for fig in ("clusters.png", "volcano_measured.png", "de_concordance.png", "gene_set_scores.png", "pseudotime.png"):
        assert (out / "analysis" / "figures" / fig).stat().st_size > 5000
    assert json.loads((out / "run" / "summary.json").read_text())["steps"] == 3
    # again: every step cached; with another resolution only analysis and report are redone
    res = CliRunner().invoke(app, args + ["--resolution", "0.5"])
    assert res.exit_code == 0, res.output
    for s in ("prepare", "pretrain", "embed", "decode", "evaluate"):
        assert f"[{s}] cached" in res.output
    assert "[analyze] done" in res.output and "[report] done" in res.output
    # another plan into the same folder is refused, naming what differs
    res = CliRunner().invoke(app, ["run", str(REAL), "--out", str(out), "--steps", "4", *SMALL])
    assert res.exit_code == 2 and "max_steps" in res.output


def test_run_refuses_a_plan_shorter_than_the_warm_up(tmp_path):
    res = CliRunner().invoke(app, ["run", str(REAL), "--out", str(tmp_path / "o"), "--steps", "5", "--no-progress"])
    assert res.exit_code == 2 and "warm-up" in res.output and "train.min_steps=50" in res.output
    assert not (tmp_path / "o").exists()
