"""The comparison: one long table of every metric (mean and 95 % CI) per dataset and method, a
per-group summary, the per-gene comparison, plots, and the markdown table of ``benchmark.md``.

Summary rows average over the datasets of a group (e.g. the tissue seeds of one difficulty): the
point estimate is the mean of the per-dataset estimates and the interval bounds are the means of the
per-dataset bootstrap bounds (each dataset's CI comes from ``evaluate``'s slide-stratified bootstrap).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from madcell.evaluate.output import flatten_metrics
from madcell.utils.atomic import atomic_path

HEADLINE = ("balanced_accuracy", "hest.pearson_mean", "genes.pearson", "cca.mean_corr", "recall@1")


def metric_rows(dataset: str, group: str, method: str, metrics: dict, hest: dict | None) -> list[dict]:
    rows = flatten_metrics(metrics)
    # Recall@K is only readable next to its chance level K/n: carried as a row of its own (no CI)
    rows += [{"metric": f"retrieval.{k}", "mean": v, "lo": v, "hi": v}
             for k, v in metrics.get("retrieval", {}).items() if k.startswith("chance@")]
    if hest is not None:
        rows.append({"metric": "hest.pearson_mean", **hest["pearson_mean"]})
    return [{"dataset": dataset, "group": group, "method": method, **r} for r in rows]


def summarise_groups(results: pd.DataFrame) -> pd.DataFrame:
    g = results.groupby(["group", "method", "metric"], sort=False)
    out = g[["mean", "lo", "hi"]].mean()
    out["n_datasets"] = g.size()
    return out.reset_index()


def _fmt(m: float, lo: float, hi: float) -> str:
    if m is None or not np.isfinite(m):
        return "n/a"
    return f"{m:.3f} [{lo:.3f}, {hi:.3f}]"


def markdown_tables(summary: pd.DataFrame, methods: Sequence[str]) -> str:
    """Per group: one row per metric, one column per method, ``mean [lo, hi]``."""
    parts = []
    for group, sub in summary.groupby("group", sort=False):
        n = int(sub["n_datasets"].max())
        parts.append(f"### {group} ({n} dataset{'s' if n != 1 else ''}; mean [95 % CI])\n")
        cols = [m for m in methods if m in set(sub["method"])]
        parts.append("| metric | " + " | ".join(cols) + " |")
        parts.append("|---" * (len(cols) + 1) + "|")
        table = {(r.metric, r.method): _fmt(r.mean, r.lo, r.hi) for r in sub.itertuples()}
        for metric in dict.fromkeys(sub["metric"]):
            parts.append(f"| {metric} | " + " | ".join(table.get((metric, c), "") for c in cols) + " |")
        parts.append("")
    return "\n".join(parts)


def per_gene_table(per_gene: list[dict]) -> pd.DataFrame:
    """Rows (group, dataset, method, protocol, gene, pearson, lo, hi) from evaluate's decoders and HEST."""
    return pd.DataFrame(per_gene, columns=["group", "dataset", "method", "protocol", "gene", "pearson", "lo", "hi"])


def plot_headline(summary: pd.DataFrame, methods: Sequence[str], path: Path) -> Path | None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    # within-group numbers (many per label) would crowd the 12 panels out: they are in the tables
    keep = summary[summary["metric"].map(lambda m: any(h in m for h in HEADLINE))
                   & ~summary["metric"].str.contains(r"\[|within_")]
    if keep.empty:
        return None
    metrics = list(dict.fromkeys(keep["metric"]))[:12]
    groups = list(dict.fromkeys(keep["group"]))
    fig, axes = plt.subplots(len(metrics), 1, figsize=(1.2 + 0.7 * len(methods) * len(groups), 2.2 * len(metrics)), squeeze=False)
    width = 0.8 / max(len(groups), 1)
    for ax, metric in zip(axes[:, 0], metrics):
        for j, group in enumerate(groups):
            sub = keep[(keep["metric"] == metric) & (keep["group"] == group)].set_index("method").reindex(methods)
            x = np.arange(len(methods)) + j * width
            err = np.vstack([sub["mean"] - sub["lo"], sub["hi"] - sub["mean"]]).clip(0)
            ax.bar(x, sub["mean"], width, yerr=err, capsize=2, label=group)
        ax.set_title(metric, fontsize=9)
        ax.set_xticks(np.arange(len(methods)) + width * (len(groups) - 1) / 2, methods, rotation=30, ha="right", fontsize=8)
    axes[0, 0].legend(fontsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)
    return path


def plot_per_gene(pg: pd.DataFrame, reference: str, path: Path) -> Path | None:
    """Scatter of each method's per-gene Pearson against the reference method's (mean over datasets)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if pg.empty or reference not in set(pg["method"]):
        return None
    avg = pg.groupby(["protocol", "group", "method", "gene"])["pearson"].mean().reset_index()
    panels = list(avg.groupby(["protocol", "group"]).groups)
    others = [m for m in dict.fromkeys(avg["method"]) if m != reference]
    if not others:
        return None
    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 4), squeeze=False)
    for ax, (protocol, group) in zip(axes[0], panels):
        sub = avg[(avg["protocol"] == protocol) & (avg["group"] == group)].pivot(index="gene", columns="method", values="pearson")
        if reference not in sub:
            continue
        for m in others:
            if m in sub:
                ax.scatter(sub[reference], sub[m], s=8, label=m, alpha=0.7)
        lo, hi = np.nanmin(sub.to_numpy()), np.nanmax(sub.to_numpy())
        ax.plot([lo, hi], [lo, hi], "k--", lw=0.8)
        ax.set_xlabel(f"{reference} per-gene Pearson")
        ax.set_ylabel("method per-gene Pearson")
        ax.set_title(f"{group}: {protocol}", fontsize=9)
    axes[0, 0].legend(fontsize=7)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)
    return path


def write_csv(df: pd.DataFrame, path: Path) -> Path:
    with atomic_path(path) as tmp:
        df.to_csv(tmp, index=False)
    return path


def load_result(metrics_dir: Path) -> tuple[dict, dict | None]:
    metrics = json.loads((metrics_dir / "metrics.json").read_text())
    hp = metrics_dir / "hest.json"
    return metrics, (json.loads(hp.read_text()) if hp.exists() else None)
