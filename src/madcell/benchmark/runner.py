"""``run_benchmark``: every configured method on every dataset, one protocol, one comparison.

Layout of ``out``::

    cache/data/<dataset>/{tissue, store.h5}     synthetic input and its view store
    cache/runs/<dataset>/<method>/              madcell pretrain runs
    cache/embeddings/<dataset>/<method>.h5ad    the AnnData form of every method
    cache/metrics/<dataset>/<method>/           evaluate_anndata (+ hest.json)
    results.csv  summary.csv  per_gene.csv  verdicts.csv  figures/  benchmark.json  benchmark.md  report/

Every artefact is cached under a key of its config and inputs (:mod:`.cache`), so a rerun recomputes
only what changed. All methods are scored by the same ``evaluate_anndata`` call with the same config
(group-aware folds x seeds, identical MLP decoders, slide-stratified bootstrap CIs), and the
reference method is compared with every control on paired bootstrap differences (:mod:`.verdicts`).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable, Mapping, Sequence

import pandas as pd

from madcell.benchmark import summary as S
from madcell.benchmark.cache import ArtefactCache, make_key
from madcell.benchmark.config import load_bench_config, training_config
from madcell.benchmark.data import datasets
from madcell.benchmark.methods import embed_method, method_order
from madcell.data.source import open_views
from madcell.errors import InputError, MadcellError
from madcell.utils.atomic import atomic_write_text


def _skip_reason(name: str, spec: dict, done: Mapping) -> str | None:
    if spec["kind"] == "baseline" and spec["baseline"] == "frozen" and not (spec["cfg"] or {}).get("weights"):
        return "no local weights file configured (cfg.weights)"
    if spec["kind"] == "concat":
        missing = [d for d in (spec["morph"], spec["micro"]) if d not in done]
        if missing:
            return f"needs {', '.join(missing)}"
    return None


EVAL_OUTPUT = "bootstrap-samples/1"  # metrics folders now carry bootstrap.npz: older cached ones are redone


def _within(data: Mapping, labels: Sequence[str], columns: Sequence[str]) -> tuple[dict, dict]:
    """The config's within-group scoring, for the labels scored here whose grouping column exists."""
    within = {lab: grp for lab, grp in (data["within"] or {}).items() if lab in labels and grp in columns and lab != grp}
    classes = {lab: list(v) for lab, v in (data["within_classes"] or {}).items() if lab in within}
    return within, classes


def _evaluate(emb: Path, emb_key: str, labels, genes, within, train_cfg: dict, hest_cfg: dict, cache: ArtefactCache,
              out: Path, what: str) -> Path:
    import anndata as ad

    from madcell.benchmark.hest import hest_gene_prediction
    from madcell.evaluate import evaluate_anndata, write_metrics

    key = make_key("metrics", emb_key, train_cfg["evaluate"], train_cfg["decode"], labels, genes, hest_cfg, within,
                   EVAL_OUTPUT)

    def build(p: Path) -> None:
        adata = ad.read_h5ad(emb)
        res = evaluate_anndata(adata, labels, genes, train_cfg, within=within[0], within_classes=within[1])
        write_metrics(res, p)
        if hest_cfg["enabled"] and adata.n_vars > 0:
            atomic_write_text(p / "hest.json", json.dumps(hest_gene_prediction(adata, hest_cfg, train_cfg["evaluate"]), indent=1))

    return cache.get(out, key, build, what)


def _per_gene(ds, method: str, metrics: dict, hest: dict | None) -> list[dict]:
    rows = []
    pg = metrics.get("genes", {}).get("per_gene")
    if pg:
        p = pg["pearson"]
        rows += [dict(group=ds.group, dataset=ds.name, method=method, protocol="mlp decoder", gene=g, pearson=m, lo=lo, hi=hi)
                 for g, m, lo, hi in zip(pg["gene"], p["mean"], p["lo"], p["hi"])]
    if hest is not None:
        p = hest["per_gene"]["pearson"]
        rows += [dict(group=ds.group, dataset=ds.name, method=method, protocol="hest ridge", gene=g, pearson=m, lo=lo, hi=hi)
                 for g, m, lo, hi in zip(hest["per_gene"]["gene"], p["mean"], p["lo"], p["hi"])]
    return rows


def _reports(bench: Mapping, report_sets: list, entries: Mapping, train_cfg: dict, cache: ArtefactCache, root: Path,
             out: Path, echo: Callable[[str], None]) -> dict:
    """``madcell.report.build_report`` for the chosen datasets; a failing report is noted, not fatal."""
    from madcell.report import build_report

    which, seen, made = bench["report"]["datasets"], set(), {}
    for ds, labels in report_sets:
        if which == "none" or (which == "first" and ds.group in seen) or not entries.get(ds.name):
            continue
        seen.add(ds.group)
        logs = {n: root / "runs" / ds.name / n / "metrics.csv" for n in entries[ds.name]
                if bench["methods"][n]["kind"] == "mad"}
        methods = {n: {"adata": e["adata"], "metrics": e["metrics"]} for n, e in entries[ds.name].items()}
        key = make_key("report", {n: e["key"] for n, e in entries[ds.name].items()}, labels, bench["report"])
        build = lambda p, m=methods, lab=labels, lg=logs: build_report(m, p, lab, training_logs=lg,
                                                                        fmt=bench["report"]["fmt"], cfg=train_cfg)
        try:
            rep = cache.get(out / "report" / ds.name, key, build, f"report {ds.name}")
            made[ds.name] = str(rep / ("report.md" if bench["report"]["fmt"] == "md" else "report.html"))
        except (MadcellError, RuntimeError, ValueError, KeyError) as exc:
            made[ds.name] = f"failed: {type(exc).__name__}: {exc}"
        echo(f"report {ds.name}: {made[ds.name]}")
    return made


def run_benchmark(config: str | Path, out: str | Path, overrides: Mapping | None = None, command: str | None = None,
                  only: Sequence[str] | None = None, echo: Callable[[str], None] = lambda s: None) -> dict:
    """Run the benchmark ``config`` into ``out`` (``only``: these methods, plus what a concatenation
    among them reads); returns ``{"results", "summary", "per_gene", "log", "methods", "skipped", ...}``."""
    t0 = time.monotonic()
    bench = load_bench_config(config, overrides)
    if only:
        unknown = [m for m in only if m not in bench["methods"]]
        if unknown:
            raise InputError("--method", f"unknown method(s) {', '.join(unknown)} (config has: {', '.join(bench['methods'])})")
        keep = set(only) | {d for m in only for d in (bench["methods"][m].get("morph"), bench["methods"][m].get("micro")) if d}
        for name, spec in bench["methods"].items():
            spec["enabled"] = spec["enabled"] and name in keep
    out = Path(out)
    root = out / "cache"
    cache = ArtefactCache()
    train_cfg = training_config(bench)
    order = method_order(bench["methods"])
    rows, per_gene, skipped, hest_protocol, failed = [], [], {}, None, []
    entries: dict[str, dict] = {}
    report_sets: list = []
    for ds in datasets(bench, train_cfg, cache, root):
        echo(f"dataset {ds.name}: {ds.store}")
        store = open_views(ds.store)
        labels = bench["data"]["labels"] if bench["data"]["labels"] is not None else list(store.label_columns)
        genes = bench["data"]["genes"] if store.has_expression else None
        within = _within(bench["data"], labels, store.label_columns)
        store.close()
        done: dict[str, tuple[Path, str]] = {}
        entries[ds.name] = {}
        report_sets.append((ds, labels))
        for name in order:
            spec = bench["methods"][name]
            reason = _skip_reason(name, spec, done)
            if reason:
                skipped[name] = reason
                continue
            n_log = len(cache.log)
            try:
                done[name] = embed_method(name, spec, ds, bench, cache, root, done)
                mdir = _evaluate(*done[name], labels, genes, within, train_cfg, bench["hest"], cache,
                                 root / "metrics" / ds.name / name, f"evaluate {name} on {ds.name}")
            except (MadcellError, RuntimeError, ValueError) as exc:  # one method failing must not sink the rest
                done.pop(name, None)
                failed.append({"dataset": ds.name, "method": name, "error": f"{type(exc).__name__}: {exc}"})
                echo(f"  {name}: FAILED ({type(exc).__name__}: {exc})")
                continue
            echo(f"  {name}: " + ", ".join(f"{e['artefact'].split(' ')[0]} {e['status']} ({e['seconds']} s)"
                                          for e in cache.log[n_log:]))
            entries[ds.name][name] = {"adata": done[name][0], "metrics": mdir, "key": cache.log[-1]["key"]}
            metrics, hest = S.load_result(mdir)
            if hest is not None:
                hest_protocol = hest["protocol"]
            rows += S.metric_rows(ds.name, ds.group, name, metrics, hest)
            per_gene += _per_gene(ds, name, metrics, hest)
    results = pd.DataFrame(rows, columns=["dataset", "group", "method", "metric", "mean", "lo", "hi"])
    summary = S.summarise_groups(results)
    pg = S.per_gene_table(per_gene)
    methods = [m for m in order if m not in skipped]
    S.write_csv(results, out / "results.csv")
    S.write_csv(summary, out / "summary.csv")
    S.write_csv(pg, out / "per_gene.csv")
    figs = [p for p in (S.plot_headline(summary, methods, out / "figures" / "headline_metrics.png"),
                        S.plot_per_gene(pg, bench["reference"], out / "figures" / "per_gene_pearson.png")) if p]
    reports = _reports(bench, report_sets, entries, train_cfg, cache, root, out, echo)
    from madcell.benchmark.verdicts import benchmark_verdicts

    verdicts, verdicts_md, problems = benchmark_verdicts(bench, entries, {ds.name: ds.group for ds, _ in report_sets},
                                                         methods, float(train_cfg["evaluate"]["ci"]))
    S.write_csv(verdicts, out / "verdicts.csv")
    for p in problems:
        echo(f"verdicts: {p}")
    info = {"config": bench["source"], "name": bench["name"], "methods": methods, "skipped": skipped, "failed": failed,
            "hest_protocol": hest_protocol,
            "evaluate": train_cfg["evaluate"], "decode": train_cfg["decode"], "log": cache.log, "seconds": round(time.monotonic() - t0, 1), "figures": [str(f) for f in figs], "reports": reports,
            "reference": bench["reference"], "verdicts_md": verdicts_md, "verdict_problems": problems}
    atomic_write_text(out / "benchmark.json", json.dumps(info, indent=1, default=str))
    from madcell.benchmark.markdown import write_benchmark_md

    write_benchmark_md(out / "benchmark.md", bench, info, summary, methods, command)
    return {**info, "results": results, "summary": summary, "per_gene": pg, "verdicts": verdicts, "out": out}
