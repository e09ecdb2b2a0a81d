"""Benchmark configs: the shipped ones load, the schema rejects typos, the CLI runs and reports."""

import pytest
import yaml
from typer.testing import CliRunner

from madcell.benchmark import load_bench_config, training_config
from madcell.cli import app
from madcell.config import load_config
from madcell.errors import InputError


def test_shipped_configs_load_and_embed_training_configs():
    syn = load_bench_config("bench-synthetic")
    assert set(syn["data"]["synthetic"]["difficulties"]) == {"easy", "hard"} and len(syn["data"]["synthetic"]["seeds"]) >= 2
    kinds = {s["kind"] for s in syn["methods"].values()}
    assert kinds == {"mad", "concat", "baseline", "oracle"}
    assert syn["data"]["within"] == {"subtype": "cell_type"} and "macrophage_TAM" in syn["data"]["within_classes"]["subtype"]
    views = {s["overrides"]["train"]["views"] for s in syn["methods"].values() if s["kind"] == "mad" and s["overrides"]}
    assert views == {"morph", "micro", "separate"}
    cfg = training_config(syn)  # the embedded training sections go through load_config
    assert cfg["model"] == load_config("cpu-tiny")["model"] and cfg["train"]["max_steps"] == 250  # equal steps for every run
    assert cfg["train"]["time_budget_s"] is None
    paper = load_bench_config("bench-paper", {"data": {"store": "STORE.h5"}})
    assert training_config(paper)["model"]["arch"] == "vit_large"
    assert training_config(paper)["prepare"]["morph_size"] == 70
    with pytest.raises(InputError, match="data.store is not set"):
        load_bench_config("bench-paper")


def test_schema_errors(tmp_path):
    def write(d):
        p = tmp_path / "b.yaml"
        p.write_text(yaml.safe_dump({"kind": "benchmark", "data": {"store": "x.h5"}, **d}))
        return p

    ok = {"pca": {"kind": "baseline", "baseline": "pca"}}
    assert load_bench_config(write({"methods": ok}))["methods"]["pca"]["enabled"]
    with pytest.raises(InputError, match="unknown config key 'hest.n_gense'"):
        load_bench_config(write({"methods": ok, "hest": {"n_gense": 3}}))
    with pytest.raises(InputError, match="must be one of"):
        load_bench_config(write({"methods": {"x": {"kind": "baseline", "baseline": "svm"}}}))
    with pytest.raises(InputError, match="unknown method 'b'"):
        load_bench_config(write({"methods": {**ok, "c": {"kind": "concat", "morph": "pca", "micro": "b"}}}))
    with pytest.raises(InputError, match="methods.pca.cgf"):
        load_bench_config(write({"methods": {"pca": {"kind": "baseline", "baseline": "pca", "cgf": {}}}}))
    with pytest.raises(InputError, match="methods"):
        load_bench_config(write({}))


def test_cli_help_and_bad_config(tmp_path):
    r = CliRunner().invoke(app, ["benchmark", "--help"])
    assert r.exit_code == 0 and "--store" in r.output
    r = CliRunner().invoke(app, ["benchmark", str(tmp_path / "missing.yaml"), "--out", str(tmp_path / "o")])
    assert r.exit_code == 2


def test_cli_runs_only_selected_method(tmp_path, bench_store):
    cfg = {"kind": "benchmark", "name": "cli", "data": {"store": None, "labels": ["cell_type"]},
           "config": {"overrides": {"evaluate": {"n_folds": 2, "seeds": [0], "bootstrap": 20, "mlp_probe": False},
                                    "decode": {"max_epochs": 1, "patience": 1}}},
           "hest": {"enabled": False},
           "methods": {"pca": {"kind": "baseline", "baseline": "pca", "cfg": {"size": 8, "n_components": 4}},
                       "vae": {"kind": "baseline", "baseline": "vae"}}}
    p = tmp_path / "b.yaml"
    p.write_text(yaml.safe_dump(cfg))
    out = tmp_path / "out"
    r = CliRunner().invoke(app, ["benchmark", str(p), "--out", str(out), "--store", str(bench_store), "-m", "pca", "-q"])
    assert r.exit_code == 0, r.output
    assert (out / "cache" / "embeddings" / "tiny" / "pca.h5ad").exists()
    assert not (out / "cache" / "embeddings" / "tiny" / "vae.h5ad").exists()
    r = CliRunner().invoke(app, ["benchmark", str(p), "--out", str(out), "--store", str(bench_store), "-m", "nope"])
    assert r.exit_code == 2 and "nope" in r.output
