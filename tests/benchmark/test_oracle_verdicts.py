"""Oracle rows from the synthetic ground truth, within-type scoring and computed verdicts in a benchmark."""

import numpy as np
import pandas as pd
import pytest
import yaml

from madcell.benchmark import run_benchmark
from madcell.benchmark.oracle import oracle_matrix
from madcell.data.store import ViewStore
from madcell.errors import InputError

FAST = {"evaluate": {"n_folds": 3, "seeds": [0], "split": "spatial_block", "bootstrap": 60, "mlp_probe": False},
        "prepare": {"morph_size": 28, "micro_size": 56, "k_neighbors": 8, "tile_size": 96, "stats_sample_pixels": 20000}}


def test_oracles_within_and_verdicts(tmp_path):
    cfg = {"kind": "benchmark", "name": "oracles",
           "data": {"synthetic": {"cells": 400, "seeds": [2], "difficulties": ["easy"]},
                    "labels": ["cell_type", "subtype"], "genes": "none",
                    "within": {"subtype": "cell_type"},
                    "within_classes": {"subtype": ["macrophage_TAM", "macrophage_stromal", "CAF", "fibroblast_stromal"]}},
           "config": {"overrides": FAST}, "hest": {"enabled": False}, "report": {"datasets": "none"},
           "reference": "oracle_both", "verdicts": ["oracle_morph", "pixel_pca"],
           "methods": {"oracle_morph": {"kind": "oracle", "features": "morph"},
                       "oracle_context": {"kind": "oracle", "features": "context"},
                       "oracle_both": {"kind": "oracle", "features": "both"},
                       "pixel_pca": {"kind": "baseline", "baseline": "pca", "cfg": {"size": 8, "n_components": 16}}}}
    p = tmp_path / "b.yaml"
    p.write_text(yaml.safe_dump(cfg))
    out = tmp_path / "out"
    res = run_benchmark(p, out)
    assert res["failed"] == [] and res["verdict_problems"] == []
    r = res["results"].set_index(["method", "metric"])["mean"]
    sel = "labels.subtype.within_cell_type_selected.knn.accuracy"
    # the context-only subtypes: decidable from the neighbourhood, not from the cell itself
    assert r[("oracle_context", sel)] > r[("oracle_morph", sel)] + 0.1
    assert r[("oracle_morph", "labels.cell_type.knn.accuracy")] > 0.9
    assert ("oracle_both", "retrieval.chance@5") not in r  # one-part embeddings: no retrieval
    v = pd.read_csv(out / "verdicts.csv")
    assert set(v["control"]) == {"oracle_morph", "pixel_pca"}
    row = v[(v["control"] == "oracle_morph") & (v["metric"] == sel)].iloc[0]
    assert row["verdict"] == "wins" and row["lo"] > 0
    md = (out / "benchmark.md").read_text()
    assert "## Verdicts" in md and "oracle — the synthetic ground truth" in md and "within-group scoring" in md
    store = ViewStore(out / "cache" / "data" / "easy-s2" / "store.h5")
    X, names = oracle_matrix(store, "both")
    assert X.shape[0] == 400 and np.allclose(X.mean(0), 0, atol=1e-5) and any(n.startswith("context.") for n in names)


def test_oracle_needs_ground_truth(bench_store):
    with pytest.raises(InputError, match="no ground truth"):
        oracle_matrix(ViewStore(bench_store), "morph")
