"""``madcell report``: a Markdown/HTML comparison report from evaluation folders and training runs."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from madcell.cli.common import console, guarded


def _discover(folder: Path) -> tuple[str, dict, Path | None]:
    """(name, {"adata", "metrics"}, training metrics.csv) found in one results/run folder."""
    import json

    import pandas as pd

    from madcell.errors import InputError

    if not folder.is_dir():
        raise InputError(folder, "is not a folder (give evaluation output or run folders)")
    entry: dict = {}
    name = folder.name
    if (folder / "metrics.json").exists():
        entry["metrics"] = folder / "metrics.json"
        try:
            name = json.loads((folder / "metrics.json").read_text()).get("method") or name
        except json.JSONDecodeError as exc:
            raise InputError(folder / "metrics.json", f"is not valid JSON ({exc})") from exc
    h5ads = sorted(folder.glob("*.h5ad"))
    if h5ads:
        preds = [p for p in h5ads if "pred" in p.stem]
        entry["adata"] = (preds or h5ads)[0]
    elif "metrics" in entry:  # `madcell evaluate EMB --out DIR` records the AnnData it scored
        src = json.loads((folder / "metrics.json").read_text()).get("embedding_path")
        if src and Path(src).exists():
            entry["adata"] = Path(src)
    log = None
    for cand in (folder / "metrics.csv", folder / "logs" / "metrics.csv"):
        if cand.exists() and "step" in pd.read_csv(cand, nrows=1).columns:
            log = cand
            break
    if not entry and log is None:
        raise InputError(folder, "holds no metrics.json, .h5ad or training metrics.csv")
    return name, entry, log


@guarded
def report_cmd(
    folders: List[Path] = typer.Argument(..., help="Evaluation output folders (metrics.json [+ .h5ad]) and/or training run folders (metrics.csv)."),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder for report.md/report.html and figures/."),
    fmt: str = typer.Option("md", "--format", help="md or html."),
    label: Optional[List[str]] = typer.Option(None, "--label", "-l", help="Label columns to show (default: those in the metrics)."),
    genes: Optional[str] = typer.Option(None, "--genes", help="Comma-separated genes for the spatial maps (default: best decoded)."),
    config: Optional[str] = typer.Option(None, "--config", "-c", help="Preset name or YAML file (default: default.yaml)."),
    set_: Optional[List[str]] = typer.Option(None, "--set", help="Config override section.key=value (repeatable)."),
) -> None:
    """Build a comparison report: metric tables with 95 % CIs, UMAPs, per-gene decoding, spatial maps,
    training curves."""
    from madcell.config import load_config
    from madcell.errors import InputError
    from madcell.evaluate import read_metrics
    from madcell.report import build_report
    from madcell.utils.paths import check_output

    check_output(out, list(folders), folder=True)

    if fmt not in ("md", "html"):
        raise InputError("--format", "must be md or html")
    methods, logs = {}, {}
    for f in folders:
        name, entry, log = _discover(f)
        if entry:
            methods[name] = entry
        if log is not None:
            logs[name] = log
    labels = list(label or [])
    if not labels:
        for e in methods.values():
            if "metrics" in e:
                labels += [k for k in read_metrics(e["metrics"]).get("labels", {}) if k not in labels]
    gene_list = [g.strip() for g in genes.split(",")] if genes else None
    path = build_report(methods, out, labels, gene_list, logs or None, fmt, load_config(config, set_ or None))
    console.print(f"report -> {path}", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("report")(report_cmd)
