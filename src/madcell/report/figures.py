"""Report figures (matplotlib, Agg backend, PNG at 150 dpi).

Readability rules used throughout: categorical colours are fixed per label value across methods,
legends sit outside the axes, long tick labels are rotated, scatter point size shrinks with the
number of cells, and no panel is smaller than ~3.2 inches.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from madcell.utils.atomic import atomic_path  # noqa: E402

plt.rcParams.update({"font.size": 10, "axes.titlesize": 11, "axes.labelsize": 10, "legend.fontsize": 9})


def _save(fig, path: Path) -> Path:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=150, bbox_inches="tight", format="png")
    plt.close(fig)
    return path


def _natural(v: str):
    """Sort key: numbers as numbers ("2" before "10"), then text."""
    return (0, float(v), "") if re.fullmatch(r"-?\d+(\.\d+)?", v) else (1, 0.0, v)


def _palette(values: Sequence[str]) -> dict[str, tuple]:
    cats = sorted(set(map(str, values)), key=_natural)
    cmap = plt.get_cmap("tab10" if len(cats) <= 10 else "tab20")
    return {c: cmap(i % cmap.N) for i, c in enumerate(cats)}


def _legend_handles(pal: Mapping[str, tuple]) -> list:
    """One marker per category; a missing value ("", "nan") is shown as "(none)", not as a blank entry."""
    return [plt.Line2D([], [], marker="o", ls="", color=c, label=k if k not in ("", "nan", "None") else "(none)")
            for k, c in pal.items()]


def _point_size(n: int) -> float:
    return float(np.clip(4000.0 / max(n, 1), 0.5, 20.0))


def plot_umaps(coords: Mapping[str, np.ndarray], obs: Mapping[str, pd.DataFrame], labels: Sequence[str], path: Path) -> Path:
    """Grid: rows = methods, columns = labels; one legend per label column, below the grid."""
    methods = list(coords)
    nr, nc = len(methods), max(1, len(labels))
    # legends below their column: as many entries per row as fit in the column's 3.6 inches
    pals = {lab: _palette(np.concatenate([obs[m][lab].astype(str).to_numpy() for m in methods])) for lab in labels}
    ncols = {lab: max(1, min(len(p), int(40 / (max(map(len, p), default=1) + 4)))) for lab, p in pals.items()}
    legend_rows = max((int(np.ceil(len(p) / ncols[lab])) for lab, p in pals.items()), default=1)
    fig, axes = plt.subplots(nr, nc, figsize=(4.2 * nc + 0.4, 3.4 * nr + 0.6 + 0.2 * legend_rows), squeeze=False)
    for j, lab in enumerate(labels):
        pal = pals[lab]
        for i, m in enumerate(methods):
            ax, xy = axes[i, j], coords[m]
            vals = obs[m][lab].astype(str).to_numpy()
            order = np.random.default_rng(0).permutation(len(vals))  # no class painted over the rest
            ax.scatter(xy[order, 0], xy[order, 1], c=[pal[v] for v in vals[order]], s=_point_size(len(vals)),
                       linewidths=0, rasterized=True)
            ax.set_xticks([]), ax.set_yticks([])
            ax.set_title(f"{m} — {lab}" if nc > 1 else m)
        handles = _legend_handles(pal)
        axes[-1, j].legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.04), ncol=ncols[lab],
                           frameon=False, title=lab, markerscale=1.2, fontsize=8, columnspacing=0.8, handletextpad=0.2)
    fig.tight_layout()
    return _save(fig, path)


def plot_per_gene_bars(per_gene: Mapping[str, pd.DataFrame], path: Path, max_genes: int = 40) -> Path:
    """Grouped bars of held-out per-gene Pearson r with 95 % CI whiskers (genes sorted by mean r)."""
    methods = list(per_gene)
    genes = pd.concat([d.set_index("gene")["pearson"] for d in per_gene.values()], axis=1).mean(axis=1)
    # at most ~120 bars, so the figure stays at most 14 inches wide and every bar stays visible
    n_genes = min(max_genes, max(8, 120 // max(len(methods), 1)))
    genes = genes.sort_values(ascending=False).index[:n_genes].tolist()
    width = 0.8 / len(methods)
    x = np.arange(len(genes))
    fig, ax = plt.subplots(figsize=(min(14.0, max(6.0, 0.12 * len(genes) * len(methods) + 3)), 4.6))
    for k, m in enumerate(methods):
        d = per_gene[m].set_index("gene").reindex(genes)
        err = np.abs(np.vstack([d["pearson"] - d["pearson_lo"], d["pearson_hi"] - d["pearson"]]))
        ax.bar(x + (k - (len(methods) - 1) / 2) * width, d["pearson"], width, yerr=err, capsize=1.5,
               label=m, error_kw={"lw": 0.6})
    ax.set_xticks(x, genes, rotation=90, fontsize=8 if len(genes) > 20 else 9)
    ax.set_ylabel("held-out Pearson r")
    ax.axhline(0, color="k", lw=0.6)
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    ax.set_title(f"Per-gene decoding (top {len(genes)} genes by mean r)")
    fig.tight_layout()
    return _save(fig, path)


def plot_gene_scatter(a: pd.DataFrame, b: pd.DataFrame, name_a: str, name_b: str, path: Path) -> Path:
    """Per-gene Pearson of method A vs method B; points above the diagonal favour B."""
    d = a.set_index("gene")[["pearson"]].join(b.set_index("gene")[["pearson"]], lsuffix="_a", rsuffix="_b").dropna()
    fig, ax = plt.subplots(figsize=(4.6, 4.6))
    ax.scatter(d["pearson_a"], d["pearson_b"], s=14, alpha=0.8)
    lo = float(min(d.min().min(), 0.0)) - 0.02
    hi = float(max(d.max().max(), 0.1)) + 0.02
    ax.plot([lo, hi], [lo, hi], "k--", lw=0.8)
    ax.set_xlim(lo, hi), ax.set_ylim(lo, hi)
    ax.set_xlabel(f"{name_a}: Pearson r"), ax.set_ylabel(f"{name_b}: Pearson r")
    wins = int((d["pearson_b"] > d["pearson_a"]).sum())
    ax.set_title(f"{name_b} better on {wins}/{len(d)} genes")
    fig.tight_layout()
    return _save(fig, path)


def plot_spatial_genes(xy: np.ndarray, measured: np.ndarray, predicted: np.ndarray, genes: Sequence[str],
                       space: str, title: str, path: Path) -> Path:
    """Rows = genes; columns = measured, predicted (same colour scale per gene), tissue coordinates."""
    n = len(genes)
    fig, axes = plt.subplots(n, 2, figsize=(8.2, 3.6 * n + 0.5), squeeze=False, layout="constrained")
    for i, g in enumerate(genes):
        vmin, vmax = np.nanpercentile(measured[:, i], [1, 99])
        for j, (vals, what) in enumerate(((measured[:, i], "measured"), (predicted[:, i], "predicted"))):
            ax = axes[i, j]
            sc = ax.scatter(xy[:, 0], xy[:, 1], c=vals, s=_point_size(len(xy)), cmap="viridis", vmin=vmin,
                            vmax=max(vmax, vmin + 1e-6), linewidths=0, rasterized=True)
            ax.set_aspect("equal"), ax.invert_yaxis()
            ax.set_xticks([]), ax.set_yticks([])
            ax.set_title(f"{g} — {what}")
        fig.colorbar(sc, ax=axes[i, :].tolist(), shrink=0.8, label=space)
    fig.suptitle(title)
    return _save(fig, path)


def plot_spatial_labels(xy: np.ndarray, true: np.ndarray, pred: np.ndarray, label: str, title: str, path: Path) -> Path:
    pal = _palette(np.concatenate([true.astype(str), pred.astype(str)]))
    fig, axes = plt.subplots(1, 2, figsize=(9.0, 4.4))
    for ax, vals, what in ((axes[0], true, "true"), (axes[1], pred, "predicted")):
        ax.scatter(xy[:, 0], xy[:, 1], c=[pal[str(v)] for v in vals], s=_point_size(len(xy)), linewidths=0, rasterized=True)
        ax.set_aspect("equal"), ax.invert_yaxis()
        ax.set_xticks([]), ax.set_yticks([])
        ax.set_title(f"{label} — {what}")
    handles = _legend_handles(pal)
    fig.legend(handles=handles, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False, title=label)
    acc = float(np.mean(true.astype(str) == pred.astype(str)))
    fig.suptitle(f"{title} (agreement {acc:.1%})")
    fig.tight_layout()
    return _save(fig, path)
