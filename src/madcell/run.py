"""``run``: one command from a vendor folder to a report — prepare -> pretrain -> embed -> (decode +
evaluate when the data carry expression or labels) -> analyze -> report.

Everything lands in one folder, and every step is cached: its output is written atomically and a
finished step is skipped when the command is run again; a killed pretraining resumes from its last
checkpoint. ``run.json`` records the plan (input, reader options, preset, overrides, length, labels);
running again into the same folder with another plan is refused (choose another ``--out``), while
the analysis settings (resolution, clustering method, GMT, pseudotime root) may change — the analysis
and the report are then redone.

    OUT/store.h5  OUT/run/  OUT/embedding.h5ad  OUT/decoded.h5ad  OUT/decoders/  OUT/eval/
    OUT/analysis/  OUT/report/report.md
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable, Sequence

from madcell.data.source import open_views
from madcell.errors import InputError
from madcell.utils.atomic import atomic_write_text

PLAN_KEYS = ("input", "format", "reader_options", "config", "overrides", "max_steps", "time_budget_s", "labels")


def label_columns(store, max_classes: int = 200) -> list[str]:
    """The store's label columns worth decoding / scoring: 2..``max_classes`` distinct non-empty values."""
    obs = store.obs
    return [c for c in store.label_columns
            if 2 <= obs[c].dropna().astype(str).replace("", None).dropna().nunique() <= max_classes]


class StepRunner:
    """Runs a pipeline's steps: a step whose output exists (or whose ``done()`` says so) is skipped."""

    def __init__(self, log: Callable[[str], None]):
        self.log, self.paths, self.seconds = log, {}, {}

    def __call__(self, name: str, target: Path, work: Callable[[], object], done: Callable[[], bool] | None = None) -> Path:
        if done() if done else target.exists():
            self.log(f"[{name}] cached: {target}")
        else:
            self.log(f"[{name}] ...")
            t0 = time.perf_counter()
            work()
            self.seconds[name] = round(time.perf_counter() - t0, 1)
            self.log(f"[{name}] done in {self.seconds[name]:.0f} s -> {target}")
        self.paths[name] = target
        return target


def plan_file(out: Path, plan: dict, keys: Sequence[str] = PLAN_KEYS) -> None:
    path = out / "run.json"
    if path.exists():
        old = json.loads(path.read_text())
        diff = [k for k in keys if old.get(k) != plan.get(k)]
        if diff:
            raise InputError(out, f"holds a run made with other settings ({', '.join(diff)} differ); choose another "
                                  "--out, or delete the folder to start over")
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(plan, indent=2))


def run_pipeline(input: str | Path, out: str | Path, config: str = "cpu-tiny", overrides: Sequence[str] | None = None,
                 max_steps: int | None = None, time_budget_s: float | None = None, format: str = "auto",
                 reader_options: dict | None = None, labels: str | Path | None = None, gmt: str | Path | None = None,
                 root: str | None = None, method: str = "leiden", resolution: float = 1.0,
                 log: Callable[[str], None] = print, progress: bool = True) -> dict:
    """Run (or finish) every step into ``out``; returns ``{step: path}`` and the seconds per step."""
    import anndata as ad

    from madcell.config import load_config

    out = Path(out)
    cfg = load_config(config, list(overrides or []) or None)
    min_steps = int(cfg["train"]["min_steps"] or 0)
    if max_steps is not None and max_steps < min_steps:
        raise InputError("--steps", f"{max_steps} optimiser steps is shorter than train.min_steps={min_steps}: the "
                                    "learning rate would not get through its warm-up and the teacher would be "
                                    "untrained (--set train.min_steps=0 accepts it)")
    plan = {"input": str(Path(input).resolve()), "format": format, "reader_options": reader_options or {},
            "config": str(config), "overrides": list(overrides or []), "max_steps": max_steps,
            "time_budget_s": time_budget_s, "labels": str(Path(labels).resolve()) if labels else None}
    plan_file(out, plan)
    gene_sets = None
    if gmt is not None:
        from madcell.analysis.genesets import read_gmt

        gene_sets = read_gmt(gmt)  # a bad GMT fails before hours of work
    step = StepRunner(log)
    from madcell.views import prepare

    store = step("prepare", out / "store.h5", lambda: prepare(input, out / "store.h5", format=format, config=config,
                                                                overrides=list(overrides or []) or None, progress=progress,
                                                                reader_options=reader_options or None, labels=labels))
    run_dir, emb = train_and_embed(step, store, out, config, overrides, max_steps, time_budget_s, progress)
    views = open_views(store)
    cols, has_expr = label_columns(views), views.has_expression
    source = emb
    if cols or has_expr:
        source = _decode_and_evaluate(out, emb, cols, has_expr, cfg, step)
    an_dir = out / "analysis"
    analysis_key = {"gmt": str(Path(gmt).resolve()) if gmt else None, "root": root, "method": method,
                    "resolution": float(resolution)}
    marker = an_dir / "settings.json"

    def analyze() -> None:
        from madcell.analysis.pipeline import run_analysis
        from madcell.embed.anndata_form import write_h5ad
        from madcell.report.analysis import write_analysis

        adata = ad.read_h5ad(source)
        result = run_analysis(adata, None, method, resolution, None, gene_sets, root, log=log)
        write_analysis(adata, result, an_dir)
        write_h5ad(adata, an_dir / "analysis.h5ad")
        atomic_write_text(marker, json.dumps(analysis_key))

    fresh = not (marker.exists() and json.loads(marker.read_text()) == analysis_key)
    step("analyze", an_dir, analyze, lambda: not fresh)

    def report() -> None:
        from madcell.report import build_report

        entry = {"adata": an_dir / "analysis.h5ad"}
        if (out / "eval" / "metrics.json").exists():
            entry["metrics"] = out / "eval" / "metrics.json"
        # the labels (or, without any, the report's own Leiden clusters); the analysis adds its cluster maps
        path = build_report({"mad": entry}, out / "report", cols, None, {"mad": run_dir / "metrics.csv"}, "md", cfg)
        text = (an_dir / "analysis.md").read_text().replace("](figures/", "](../analysis/figures/")
        atomic_write_text(path, path.read_text() + "\n" + text)

    step("report", out / "report" / "report.md", report, lambda: not fresh and (out / "report" / "report.md").exists())
    return {"paths": {k: str(v) for k, v in step.paths.items()}, "seconds": step.seconds, "labels": cols,
            "expression": has_expr}


def train_and_embed(step: StepRunner, store: Path, out: Path, config: str, overrides, max_steps, time_budget_s,
                    progress: bool) -> tuple[Path, Path]:
    """The pretrain (resumable) and embed steps: ``OUT/run``, ``OUT/embedding.h5ad``."""
    from madcell.config import load_config

    run_dir = out / "run"

    def train() -> None:
        from madcell.train import pretrain
        from madcell.train.checkpoint import last_checkpoint

        c = load_config(config, list(overrides or []) or None)
        if time_budget_s is not None:
            c["train"]["time_budget_s"] = float(time_budget_s)
        resume = last_checkpoint(run_dir).exists()
        pretrain(store, None if resume else c, run_dir, resume=resume, max_steps=None if resume else max_steps,
                 progress=progress)

    def trained() -> bool:
        s = run_dir / "summary.json"
        return s.exists() and bool(json.loads(s.read_text()).get("finished"))

    step("pretrain", run_dir, train, trained)

    def embed() -> None:
        from madcell.embed import embed_store
        from madcell.models import Encoder

        embed_store(open_views(store), Encoder.load(run_dir), out / "embedding.h5ad", info={"run": str(run_dir.resolve())},
                    progress=progress)

    emb = step("embed", out / "embedding.h5ad", embed)
    return run_dir, emb


def _decode_and_evaluate(out: Path, emb: Path, cols: list[str], has_expr: bool, cfg: dict, step) -> Path:
    import anndata as ad

    def decode() -> None:
        from madcell.decode import decode_anndata
        from madcell.embed.anndata_form import write_h5ad

        adata = ad.read_h5ad(emb)
        decode_anndata(adata, cols, "all" if has_expr else None, cfg, None, out / "decoders")
        write_h5ad(adata, out / "decoded.h5ad")

    decoded = step("decode", out / "decoded.h5ad", decode)

    def evaluate() -> None:
        from madcell.evaluate import evaluate_anndata, write_metrics

        res = evaluate_anndata(ad.read_h5ad(emb), cols, "all" if has_expr else "none", cfg)
        res["embedding_path"] = str(decoded.resolve())
        write_metrics(res, out / "eval")

    step("evaluate", out / "eval" / "metrics.json", evaluate)
    return decoded
