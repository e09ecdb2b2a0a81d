"""Benchmark configs (``bench-*.yaml``): their own schema, not a training preset.

A benchmark config names the data (an existing view store, or synthetic tissues generated from
``data.synthetic``), the training config every method starts from (``config.preset`` +
``config.overrides``, resolved by :func:`madcell.config.load_config`, so its ``evaluate``/``decode``
sections are the one protocol every method is scored with), and the methods::

    methods:
      mad:        {kind: mad}                                    # madcell pretrain + embed
      morph_only: {kind: mad, overrides: {train: {views: morph}}}
      concat:     {kind: concat, morph: morph_only, micro: micro_only}   # free: two embeddings joined
      vae:        {kind: baseline, baseline: vae, cfg: {epochs: 3}}      # madcell.baselines
      oracle_morph: {kind: oracle, features: morph}   # synthetic ground truth as the embedding (ceiling)

``data.within`` (``{label: grouping column}``) also scores a label inside each group of another
(e.g. subtype within cell type); ``data.within_classes`` (``{label: [classes]}``) adds the same
restricted to the named classes. ``verdicts`` lists the controls the reference method is compared
with, paired, metric by metric (null: every other non-oracle method).

Unknown keys are errors (as in every madcell config). ``BENCH_DEFAULTS`` / ``METHOD_DEFAULTS`` below
are the schema with its defaults.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

from madcell.config import load_config, merge, resolve_preset
from madcell.errors import InputError

BENCH_DEFAULTS: dict = {
    "kind": "benchmark",
    "name": "benchmark",
    "description": "",
    "data": {
        "store": None,              # an existing view store (.h5); null: generate data.synthetic
        # synthetic tissues, one dataset per difficulty x seed (null: none; then data.store is required)
        "synthetic": {
            "cells": 1500,
            "seeds": [0],
            "difficulties": ["easy", "hard"],
            "modality": None,       # null: synth.modality of default.yaml
            "overrides": None,      # any other key of default.yaml's synth section
        },
        "labels": None,             # obs columns scored (null: every label column of the store)
        "genes": "all",             # evaluate's genes argument (all | none | list)
        "within": None,             # {label: grouping column}: score the label inside each group too
        "within_classes": None,     # {label: [class, ...]}: and restricted to these classes
    },
    "config": {"preset": None, "overrides": None},
    "methods": None,
    "fit_cells": "train_fold",      # baselines fit on: train_fold (evaluate's first split) | all
    "reference": "mad",             # per-gene comparisons and verdicts are drawn against this method
    "verdicts": None,               # controls the reference is compared with (null: all but oracles)
    "hest": {"enabled": True, "genes": "hvg", "n_genes": 50, "pca_dims": 256, "alpha": "hest"},
    # madcell.report.build_report (UMAPs, per-gene plots, spatial maps, training curves) per dataset:
    # first = the first dataset of each group, all, or none
    "report": {"datasets": "first", "fmt": "md"},
}

METHOD_DEFAULTS: dict = {
    "mad": {"kind": "mad", "enabled": True, "overrides": None},
    "concat": {"kind": "concat", "enabled": True, "morph": None, "micro": None},
    "baseline": {"kind": "baseline", "enabled": True, "baseline": None, "cfg": None, "fit_cells": None},
    "oracle": {"kind": "oracle", "enabled": True, "features": None},
}
ORACLE_FEATURES = ("morph", "context", "both")


def _bench_file(name_or_path: str | Path) -> tuple[dict, str]:
    """A benchmark config file, or one shipped in ``madcell/configs`` (same lookup as presets)."""
    return resolve_preset(name_or_path)


def _check_method(name: str, spec: Mapping, label: str) -> dict:
    kind = spec.get("kind") if isinstance(spec, Mapping) else None
    if kind not in METHOD_DEFAULTS:
        raise InputError(label, f"methods.{name}.kind must be one of {', '.join(METHOD_DEFAULTS)}")
    out = merge(METHOD_DEFAULTS[kind], spec, label, f"methods.{name}.")
    if kind == "baseline":
        from madcell.baselines import list_baselines

        if out["baseline"] not in list_baselines():
            raise InputError(label, f"methods.{name}.baseline must be one of {', '.join(list_baselines())}")
    if kind == "oracle" and out["features"] not in ORACLE_FEATURES:
        raise InputError(label, f"methods.{name}.features must be one of {', '.join(ORACLE_FEATURES)}")
    if kind == "concat" and (not out["morph"] or not out["micro"]):
        raise InputError(label, f"methods.{name} (concat) needs 'morph' and 'micro' method names")
    return out


def load_bench_config(name_or_path: str | Path, overrides: Mapping | None = None) -> dict:
    """The benchmark config (shipped name or YAML path) over :data:`BENCH_DEFAULTS`, validated."""
    raw, label = _bench_file(name_or_path)
    methods = raw.pop("methods", None)
    cfg = merge(BENCH_DEFAULTS, raw, label)
    if overrides:
        methods = overrides.get("methods", methods)
        cfg = merge(cfg, {k: v for k, v in overrides.items() if k != "methods"}, "overrides")
    if cfg["kind"] != "benchmark":
        raise InputError(label, "is not a benchmark config (kind: benchmark)")
    if not isinstance(methods, Mapping) or not methods:
        raise InputError(label, "needs a non-empty 'methods' mapping")
    cfg["methods"] = {str(n): _check_method(str(n), s, label) for n, s in methods.items()}
    for name, spec in cfg["methods"].items():
        for dep in (spec.get("morph"), spec.get("micro")):
            if dep is not None and dep not in cfg["methods"]:
                raise InputError(label, f"methods.{name} refers to an unknown method '{dep}'")
    if cfg["report"]["datasets"] not in ("first", "all", "none"):
        raise InputError(label, "report.datasets must be first, all or none")
    if cfg["fit_cells"] not in ("train_fold", "all"):
        raise InputError(label, "fit_cells must be train_fold or all")
    for key in ("within", "within_classes"):
        if cfg["data"][key] is not None and not isinstance(cfg["data"][key], Mapping):
            raise InputError(label, f"data.{key} must be a mapping of label -> " + ("grouping column" if key == "within" else "class list"))
    unknown = [m for m in cfg["verdicts"] or [] if m not in cfg["methods"]]
    if unknown:
        raise InputError(label, f"verdicts names unknown method(s) {', '.join(map(str, unknown))}")
    syn = cfg["data"]["synthetic"]
    if cfg["data"]["store"] is None and (not syn or not syn["seeds"] or not syn["difficulties"]):
        raise InputError(label, "data.store is not set (set it to a view store, or pass --store) and there is "
                                "no data.synthetic to generate")
    cfg["source"] = label
    return cfg


def training_config(bench: Mapping, method_overrides: Mapping | None = None) -> dict:
    """The full training config of the benchmark (``config.preset`` <- ``config.overrides``) with a
    method's own overrides on top."""
    cfg = load_config(bench["config"]["preset"], bench["config"]["overrides"])
    if method_overrides:
        cfg = merge(cfg, method_overrides, "method overrides")
    return cfg
