"""The benchmark runs fast methods on a tiny store, writes the comparison, and a rerun is all cache."""

import json

import pandas as pd
import yaml

from madcell.benchmark import run_benchmark
from madcell.benchmark.cache import ArtefactCache, make_key

FAST_EVAL = {"evaluate": {"n_folds": 2, "seeds": [0], "split": "spatial_block", "bootstrap": 30, "mlp_probe": False},
             "decode": {"max_epochs": 2, "patience": 1}}


def _config(tmp_path, store, vae_steps=1):
    cfg = {
        "kind": "benchmark", "name": "tiny",
        "data": {"store": str(store), "labels": ["cell_type"]},
        "config": {"preset": None, "overrides": FAST_EVAL},
        "hest": {"n_genes": 4, "pca_dims": 8},
        "reference": "pca",
        "methods": {
            "pca": {"kind": "baseline", "baseline": "pca", "cfg": {"size": 8, "n_components": 6}},
            "vae": {"kind": "baseline", "baseline": "vae",
                    "cfg": {"size": 16, "channels": [4, 8], "latent_dim": 4, "max_steps": vae_steps, "batch_size": 8}},
            "pca_vae": {"kind": "concat", "morph": "pca", "micro": "vae"},
            "uni": {"kind": "baseline", "baseline": "frozen"},  # no weights: skipped, said so
        },
    }
    p = tmp_path / "bench.yaml"
    p.write_text(yaml.safe_dump(cfg))
    return p, cfg


def test_key_is_order_independent():
    assert make_key({"a": 1, "b": 2}) == make_key({"b": 2, "a": 1}) != make_key({"a": 1, "b": 3})


def test_benchmark_runs_and_rerun_skips(tmp_path, bench_store):
    cfg_path, cfg = _config(tmp_path, bench_store)
    out = tmp_path / "out"
    first = run_benchmark(cfg_path, out, command="madcell benchmark bench.yaml")
    built = [e for e in first["log"] if e["status"] == "built"]
    assert len(built) == 7  # 3 embeddings + 3 evaluations + the report
    assert (out / "report" / "tiny" / "report.md").exists() and "report for tiny" in (out / "benchmark.md").read_text()
    assert first["skipped"] == {"uni": "no local weights file configured (cfg.weights)"} and first["failed"] == []
    res = pd.read_csv(out / "results.csv")
    assert set(res["method"]) == {"pca", "vae", "pca_vae"}
    ci = res.dropna(subset=["lo", "hi"])
    assert len(ci) > 10 and (ci["lo"] <= ci["hi"] + 1e-12).all()
    assert {"hest.pearson_mean", "labels.cell_type.knn.balanced_accuracy"} <= set(res["metric"])
    pg = pd.read_csv(out / "per_gene.csv")
    assert set(pg["protocol"]) == {"mlp decoder", "hest ridge"}
    md = (out / "benchmark.md").read_text()
    assert "madcell benchmark bench.yaml" in md and "cpu_count" in md and "date:" in md
    assert "| metric | pca | vae | pca_vae |" in md and "skipped" in md and "per-gene Pearson" in md
    assert (out / "figures" / "headline_metrics.png").exists() and (out / "figures" / "per_gene_pearson.png").exists()

    emb = out / "cache" / "embeddings" / "tiny" / "vae.h5ad"
    mtime = emb.stat().st_mtime_ns
    second = run_benchmark(cfg_path, out)
    assert all(e["status"] == "cached" for e in second["log"])
    assert emb.stat().st_mtime_ns == mtime
    pd.testing.assert_frame_equal(pd.read_csv(out / "results.csv"), res)

    # change only the VAE: it, its evaluation and the concatenation that reads it are redone
    cfg_path, _ = _config(tmp_path, bench_store, vae_steps=2)
    third = run_benchmark(cfg_path, out)
    rebuilt = {e["artefact"].split(" on ")[0] for e in third["log"] if e["status"] == "built"}
    assert rebuilt == {"vae vae", "evaluate vae", "concat pca_vae", "evaluate pca_vae", "report tiny"}
    info = json.loads((out / "benchmark.json").read_text())
    assert info["methods"] == ["pca", "vae", "pca_vae"]


def test_stale_or_partial_artefact_is_rebuilt(tmp_path):
    cache = ArtefactCache()
    calls = []
    target = tmp_path / "a.txt"
    build = lambda p: (calls.append(1), p.write_text("x"))
    cache.get(target, "k1", build, "a")
    cache.get(target, "k1", build, "a")
    assert len(calls) == 1
    (tmp_path / "a.txt.key").unlink()  # a killed run leaves the artefact without its key
    cache.get(target, "k1", build, "a")
    cache.get(target, "k2", build, "a")
    assert len(calls) == 3 and [e["status"] for e in cache.log] == ["built", "cached", "built", "built"]


def test_mad_variants_concat_and_untrained(tmp_path, bench_store):
    tiny = {"model": {"arch": "custom", "embed_dim": 24, "depth": 1, "num_heads": 2},
            "head": {"n_layers": 2, "hidden_dim": 32, "bottleneck_dim": 16, "out_dim": 64},
            "augment": {"n_local": 0}, "train": {"max_steps": 1, "batch_size": 8, "eval_every": 1000, "ckpt_every": 1000}}
    cfg = {"kind": "benchmark", "name": "mad", "data": {"store": str(bench_store), "labels": ["cell_type"], "genes": "none"},
           "config": {"overrides": {**tiny, **{k: v for k, v in FAST_EVAL.items()}}},
           "hest": {"enabled": False}, "report": {"datasets": "none"},
           "methods": {"mad": {"kind": "mad"},
                       "morph_only": {"kind": "mad", "overrides": {"train": {"views": "morph"}}},
                       "joined": {"kind": "concat", "morph": "morph_only", "micro": "mad"},
                       "untrained": {"kind": "baseline", "baseline": "untrained"}}}
    p = tmp_path / "b.yaml"
    p.write_text(yaml.safe_dump(cfg))
    res = run_benchmark(p, tmp_path / "out")
    assert res["failed"] == [] and res["methods"] == ["mad", "morph_only", "untrained", "joined"]
    import anndata as ad

    emb = tmp_path / "out" / "cache" / "embeddings" / "tiny"
    mad, morph, joined, untrained = (ad.read_h5ad(emb / f"{m}.h5ad") for m in ("mad", "morph_only", "joined", "untrained"))
    assert mad.obsm["X_mad"].shape == untrained.obsm["X_untrained"].shape == (48, 48)  # same ViT as MAD
    import numpy as np

    np.testing.assert_allclose(joined.obsm["X_joined"], np.hstack([morph.obsm["X_morph_only_morph"], mad.obsm["X_mad_micro"]]))
    assert (tmp_path / "out" / "cache" / "runs" / "tiny" / "mad" / "export").exists()


def test_cli_prints_the_computed_verdicts(tmp_path, bench_store):
    from typer.testing import CliRunner

    from madcell.cli import app

    tiny = {"model": {"arch": "custom", "embed_dim": 24, "depth": 1, "num_heads": 2},
            "head": {"n_layers": 2, "hidden_dim": 32, "bottleneck_dim": 16, "out_dim": 64},
            "augment": {"n_local": 0}, "train": {"max_steps": 2, "batch_size": 8, "eval_every": 1000, "ckpt_every": 1000}}
    cfg = {"kind": "benchmark", "name": "cli", "data": {"store": str(bench_store), "labels": ["cell_type"], "genes": "none"},
           "config": {"overrides": {**tiny, **FAST_EVAL}}, "hest": {"enabled": False}, "report": {"datasets": "none"},
           "methods": {"mad": {"kind": "mad"}, "untrained": {"kind": "baseline", "baseline": "untrained"}}}
    p = tmp_path / "b.yaml"
    p.write_text(yaml.safe_dump(cfg))
    res = CliRunner().invoke(app, ["benchmark", str(p), "--out", str(tmp_path / "out"), "--quiet"])
    assert res.exit_code == 0, res.output
    assert "Verdicts (" in res.output and "| mad − control | untrained |" in res.output
    assert "cell_type knn" in res.output and any(v in res.output for v in ("wins", "ties", "loses"))
