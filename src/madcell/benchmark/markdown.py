"""``benchmark.md``: what was run, where, when, how it was scored, and the comparison table."""

from __future__ import annotations

import datetime as _dt
import os
import platform
import sys
from pathlib import Path
from typing import Mapping, Sequence

import pandas as pd

from madcell.benchmark.summary import markdown_tables
from madcell.utils.atomic import atomic_write_text


def machine() -> dict:
    import torch

    out = {"platform": platform.platform(), "python": sys.version.split()[0], "cpu_count": os.cpu_count(),
           "torch": torch.__version__, "torch_threads": torch.get_num_threads()}
    if hasattr(os, "sched_getaffinity"):
        out["cpus_usable"] = len(os.sched_getaffinity(0))
    if torch.cuda.is_available():
        out["gpu"] = ", ".join(torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count()))
    return out


def _method_line(name: str, spec: Mapping) -> str:
    if spec["kind"] == "mad":
        return f"- **{name}**: MAD (`madcell pretrain` + `embed`), overrides `{spec['overrides'] or {}}`"
    if spec["kind"] == "oracle":
        return (f"- **{name}**: oracle — the synthetic ground truth ({spec['features']} features, standardised) as the "
                "embedding: the ceiling of each label, not a competitor")
    if spec["kind"] == "concat":
        return f"- **{name}**: concatenation of {spec['morph']}'s morphology part and {spec['micro']}'s microenvironment part"
    return f"- **{name}**: baseline `{spec['baseline']}` with `{spec['cfg'] or {}}`"


def write_benchmark_md(path: Path, bench: Mapping, info: Mapping, summary: pd.DataFrame, methods: Sequence[str],
                       command: str | None) -> None:
    ec, dc = info["evaluate"], info["decode"]
    m = machine()
    lines = [
        f"# Benchmark: {bench['name']}", "",
        bench["description"].strip(), "",
        f"- command: `{command or 'run_benchmark(' + repr(bench['source']) + ')'}`",
        f"- date: {_dt.datetime.now().astimezone().isoformat(timespec='seconds')}",
        "- machine: " + ", ".join(f"{k} {v}" for k, v in m.items()),
        f"- config: `{bench['source']}`; training config: preset `{bench['config']['preset']}` + overrides "
        f"`{bench['config']['overrides'] or {}}`",
        f"- wall time: {info['seconds']} s (cached artefacts cost nothing; see benchmark.json)", "",
        "## Methods", "", *[_method_line(n, bench["methods"][n]) for n in methods],
        *[f"- ~~{n}~~ skipped: {why}" for n, why in info["skipped"].items()],
        *[f"- **FAILED** {f['method']} on {f['dataset']}: {f['error']}" for f in info["failed"]], "",
        "## Protocol", "",
        f"- every method is scored by the same `evaluate_anndata` call: `{ec['split']}` group-aware folds, "
        f"{ec['n_folds']} folds x seeds {ec['seeds']}, kNN (k={ec['knn_k']}) / linear / identical 2-layer MLP "
        f"decoders (hidden = {dc['hidden_mult']} x input dim, dropout {dc['dropout']}, genes as {dc['gene_transform']}), "
        f"{ec['ci']:.0%} percentile bootstrap CIs ({ec['bootstrap']} resamples of cells, stratified by slide)",
        f"- fitted baselines learn from: {bench['fit_cells']} (train_fold = the training cells of evaluate's first "
        "split; the other splits' test cells may have been seen, which can only favour those baselines)",
        "- rows of the summary average over the datasets of a group: mean of the point estimates, mean of the "
        "per-dataset CI bounds",
    ]
    hp = info.get("hest_protocol")
    if hp:
        lines += ["- HEST-style gene prediction (`hest.pearson_mean`): " + "; ".join(f"{k}: {v}" for k, v in hp.items())]
    if bench["data"].get("within"):
        lines += [f"- within-group scoring: {bench['data']['within']} (probes fit and scored inside each group; "
                  f"mean over groups); restricted classes: {bench['data'].get('within_classes') or 'none'}"]
    lines += ["", "## Results", "", markdown_tables(summary, methods)]
    if info.get("verdicts_md"):
        lines += ["## Verdicts (computed from paired bootstrap differences)", ""]
        for group, md in info["verdicts_md"].items():
            lines += [f"### {group}", "", md, ""]
        lines += [f"- not compared: {p}" for p in info.get("verdict_problems", [])]
    for f in info["figures"]:
        lines.append(f"![{Path(f).stem}]({Path(f).relative_to(path.parent)})")
    for ds, rep in info.get("reports", {}).items():
        target = Path(rep)
        shown = target.relative_to(path.parent) if target.is_absolute() and path.parent in target.parents else rep
        lines.append(f"- report for {ds} (UMAPs, per-gene decoding, spatial maps, training curves): `{shown}`")
    lines += ["", "Full tables: `results.csv` (per dataset), `summary.csv`, `per_gene.csv`, `verdicts.csv`.", ""]
    atomic_write_text(path, "\n".join(lines))
