"""``madcell demo``: the whole pipeline on a synthetic tissue made on the fly (no downloads).

synth -> prepare -> pretrain MAD, morphology-only and microenvironment-only (cpu-tiny, the same number
of optimiser steps each) -> embed -> the morph-only (+) micro-only concatenation, the untrained ViT of the same size
and raw-pixel PCA, plus the ground-truth oracles (ceilings) -> evaluate (identical splits, decoders and
bootstrap CIs for every row; subtype also within each cell type) -> verdicts of MAD against each
control from paired bootstrap differences -> decode cell type, subtype and genes from the MAD
embedding -> report. It is the benchmark machinery run on the shipped ``demo`` config, so every
artefact is cached and a rerun only recomputes what changed.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable

from madcell.errors import InputError, MadcellError

DEMO_CONFIG = "demo"


def run_demo(
    out: str | Path,
    cells: int | None = None,
    seed: int | None = None,
    difficulty: str | None = None,
    train_seconds: float | None = None,
    train_steps: int | None = None,
    echo: Callable[[str], None] = print,
) -> dict:
    """Run the demo into ``out``; returns ``{"table", "verdicts", "report", "decoded", "seconds", "benchmark"}``.

    ``cells``/``seed``/``difficulty``/``train_steps`` (optimiser steps of every run) / ``train_seconds``
    (a wall-time cap on each run) override the demo config (tests use a tiny run).
    Raises :class:`MadcellError` if any method failed (the table would be incomplete).
    """
    import anndata as ad

    from madcell.benchmark import run_benchmark
    from madcell.decode.anndata_decode import decode_anndata
    from madcell.embed.anndata_form import write_h5ad
    from madcell.evaluate.output import read_metrics
    from madcell.report.tables import format_metric_table
    from madcell.report.views import plot_view_grid

    t0 = time.monotonic()
    out = Path(out)
    synth: dict = {}
    if cells is not None:
        synth["cells"] = int(cells)
    if seed is not None:
        synth["seeds"] = [int(seed)]
    if difficulty is not None:
        synth["difficulties"] = [difficulty]
    overrides: dict = {"data": {"synthetic": synth}} if synth else {}
    if train_seconds is not None or train_steps is not None:
        from madcell.benchmark.config import load_bench_config

        base = load_bench_config(DEMO_CONFIG)["config"]["overrides"]
        if train_seconds is not None:
            base["train"]["time_budget_s"] = float(train_seconds)
        if train_steps is not None:
            if int(train_steps) < 1:
                raise InputError("--train-steps", f"must be at least 1, got {train_steps}")
            base["train"]["max_steps"] = int(train_steps)
        overrides["config"] = {"overrides": base}
    res = run_benchmark(DEMO_CONFIG, out, overrides or None, command="madcell demo", echo=echo)
    if res["failed"]:
        lines = "; ".join(f"{f['method']}: {f['error']}" for f in res["failed"])
        raise MadcellError(f"demo: {len(res['failed'])} method(s) failed ({lines})")

    ds = next(iter(res["reports"]))
    root = out / "cache"
    results = {m: read_metrics(root / "metrics" / ds / m / "metrics.json") for m in res["methods"]}
    labels = ["cell_type", "niche", "subtype"]
    table = format_metric_table(results, labels)
    rows = res["results"][res["results"]["dataset"] == ds]
    group = rows["group"].iloc[0] if len(rows) else None
    verdicts = res["verdicts_md"].get(group, "(no paired comparisons)")

    # decoders on the frozen MAD embedding: cell type, subtype and every gene; predictions go back
    # into the AnnData (out-of-fold) and the fitted decoders are saved for reuse (`madcell decode`).
    mad = ad.read_h5ad(root / "embeddings" / ds / "mad.h5ad")
    decode_anndata(mad, ["cell_type", "subtype"], "all", res["decode"], decoders_dir=out / "decoders")
    decoded = out / "mad_decoded.h5ad"
    write_h5ad(mad, decoded)
    report = res["reports"][ds]
    grid = plot_view_grid(root / "data" / ds / "store.h5", out / "example_views.png", n=10, label="subtype")
    return {"table": table, "verdicts": verdicts, "report": report, "views_png": grid, "decoded": decoded, "benchmark": out / "benchmark.md",
            "seconds": round(time.monotonic() - t0, 1)}
