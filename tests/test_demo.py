"""The demo pipeline end to end at a reduced size (the full demo is `make demo`)."""

from __future__ import annotations

import json

import anndata as ad
import pytest

from madcell.demo import run_demo
from madcell.evaluate.output import read_metrics


@pytest.mark.slow
def test_demo_pipeline_small(tmp_path):
    res = run_demo(tmp_path / "demo", cells=300, seed=3, train_steps=20, echo=lambda s: None)
    rows = ["mad", "morph_only", "micro_only", "morph_micro_concat", "untrained_vit", "pixel_pca",
            "oracle_morph", "oracle_context", "oracle_both"]
    for row in rows:
        assert f"| {row} |" in res["table"]
        m = read_metrics(tmp_path / "demo" / "cache" / "metrics" / "easy-s3" / row / "metrics.json")
        sub = m["labels"]["subtype"]
        for ci in (sub["kmeans"]["ari"], sub["knn"]["accuracy"]):
            assert ci["lo"] <= ci["mean"] <= ci["hi"]
        assert "pearson" in m["genes"]
    runs = tmp_path / "demo" / "cache" / "runs" / "easy-s3"
    steps = {m: json.loads((runs / m / "summary.json").read_text())["steps"] for m in ("mad", "morph_only", "micro_only")}
    assert set(steps.values()) == {20}, steps  # equal optimiser steps, not equal wall time
    assert "kNN acc within cell_type" in res["table"] and "Recall@K chance level" in res["table"]
    assert "| mad − control |" in res["verdicts"] and "morph_only" in res["verdicts"]
    assert "oracle_both" not in res["verdicts"]  # oracles are ceilings, not controls
    assert res["report"].endswith("report.md")
    text = open(res["report"]).read()
    assert "umap.png" in text and "subtype" in text
    dec = ad.read_h5ad(res["decoded"])
    assert {"pred_cell_type", "pred_subtype"} <= set(dec.obs.columns)
    assert dec.layers["pred_expression"].shape == dec.shape
    assert dec.obsm["X_mad"].shape[1] == dec.obsm["X_mad_morph"].shape[1] * 2


def test_demo_rejects_a_nonpositive_step_count(tmp_path):
    from madcell.errors import InputError

    with pytest.raises(InputError, match="--train-steps"):
        run_demo(tmp_path / "bad", train_steps=0, echo=lambda s: None)
    assert not (tmp_path / "bad").exists()
