"""``madcell benchmark``: every configured method on the same data with one protocol, cached."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import List, Optional

import typer

from madcell.cli.common import console, guarded


@guarded
def benchmark_cmd(
    config: str = typer.Argument(..., help="Benchmark config: bench-synthetic, bench-paper, or a YAML file (kind: benchmark)."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder: cache/, results.csv, summary.csv, per_gene.csv, figures/, benchmark.md, report/."),
    store: Optional[Path] = typer.Option(None, "--store", help="Run on this view store instead of the config's data (sets data.store)."),
    method: Optional[List[str]] = typer.Option(None, "--method", "-m", help="Only this method (repeatable); concatenations also run what they read."),
    set_: Optional[List[str]] = typer.Option(None, "--set", help="Benchmark config override key=value (repeatable), e.g. --set data.synthetic.seeds=[0]."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No per-artefact progress lines."),
) -> None:
    """Run MAD, its ablations and the baselines on one dataset with identical splits, decoders and CIs;
    cached artefacts are reused, so a rerun computes only what changed."""
    from madcell.benchmark import run_benchmark
    from madcell.config import parse_overrides
    from madcell.utils.paths import check_output

    check_output(out, [store], folder=True)

    overrides = parse_overrides(set_ or [])
    if store is not None:
        overrides.setdefault("data", {})["store"] = str(store)
    command = "madcell " + " ".join(shlex.quote(a) for a in sys.argv[1:]) if sys.argv[1:] else None
    echo = (lambda s: None) if quiet else (lambda s: console.print(s, highlight=False))
    res = run_benchmark(config, out, overrides or None, command=command, only=method, echo=echo)
    for group, md in (res.get("verdicts_md") or {}).items():
        typer.echo(f"\n**Verdicts ({group}): {res['reference']} against each control** "
                   f"(computed from paired bootstrap differences)\n\n{md}\n")
    built = sum(e["status"] == "built" for e in res["log"])
    console.print(f"{len(res['methods'])} methods, {built} artefacts computed, {len(res['log']) - built} reused, "
                  f"{res['seconds']:.0f} s -> {Path(out) / 'benchmark.md'}", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("benchmark")(benchmark_cmd)
