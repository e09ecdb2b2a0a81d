"""Training curves from ``metrics.csv``: one panel per quantity, one colour per run.

``metrics.csv`` is long-format (``step, epoch, name, value``; :class:`madcell.train.monitor.MetricLog`),
so it is pivoted on ``name`` first: plotting its numeric columns directly mixes loss, learning rate and
recall in one saw-tooth (the old figure). Panels, each only when some run logged it:

* total loss; the four MAD terms (line style per term: mm, uu, mu, um);
* teacher entropy (collapse shows as a fall to 0);
* cross-view Recall@K on held-out cells with its chance level K / n (dashed);
* one panel per kNN probe label with its majority-class chance (dashed);
* learning rate.

:func:`training_panels` returns the data (``[(title, ylabel, [(legend, x, y, dashed)])]``), so tests
can check what is drawn; :func:`plot_training_curves` draws and saves it.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Mapping

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

TERMS = {"loss_mm": "-", "loss_uu": "--", "loss_mu": ":", "loss_um": "-."}


def wide_log(df: pd.DataFrame) -> pd.DataFrame:
    """``metrics.csv`` (long: step, name, value) -> one column per name, indexed by step (last value)."""
    if {"step", "name", "value"} <= set(df.columns):
        return df.pivot_table(index="step", columns="name", values="value", aggfunc="last").sort_index()
    return df.set_index("step") if "step" in df else df


def _series(w: pd.DataFrame, col: str) -> tuple[np.ndarray, np.ndarray] | None:
    if col not in w:
        return None
    s = w[col].dropna()
    return (s.index.to_numpy(dtype=float), s.to_numpy(dtype=float)) if len(s) else None


def training_panels(logs: Mapping[str, pd.DataFrame]) -> list[tuple[str, str, list[tuple[str, np.ndarray, np.ndarray, bool]]]]:
    wide = {run: wide_log(df) for run, df in logs.items()}
    names = sorted({c for w in wide.values() for c in w.columns})
    panels: list = []

    def panel(title: str, ylabel: str, cols: list[tuple[str, str, bool]]) -> None:
        lines = []
        for run, w in wide.items():
            for col, legend, dashed in cols:
                xy = _series(w, col)
                if xy is not None:
                    lines.append((f"{run}: {legend}" if legend else run, xy[0], xy[1], dashed))
        if lines:
            panels.append((title, ylabel, lines))

    panel("total loss", "loss", [("train/loss", "", False)])
    panel("MAD loss terms", "cross-entropy", [(f"train/{t}", t.split("_")[1], False) for t in TERMS])
    panel("teacher entropy", "nats", [("train/teacher_entropy", "", False)])
    recall = [n for n in names if re.fullmatch(r"eval/recall@\d+", n)]
    if recall:
        k = "eval/recall@5" if "eval/recall@5" in recall else recall[0]
        panel(f"cross-view {k.split('/')[1]} (held-out cells)", "recall",
              [(k, "", False), (f"{k}_chance", "chance", True)])
    for n in names:
        m = re.fullmatch(r"eval/knn_(.+)", n)
        if m and not n.endswith(("_chance", "_balanced")):
            panel(f"kNN probe: {m.group(1)}", "accuracy", [(n, "", False), (f"{n}_chance", "chance", True)])
    panel("learning rate", "lr", [("train/lr", "", False)])
    return panels


def plot_training_curves(logs: Mapping[str, pd.DataFrame], path: Path, max_panels: int = 12) -> Path | None:
    """Draw the curves (:func:`draw_training_curves`) and save them as a PNG; None when nothing was logged."""
    from madcell.report.figures import _save

    fig = draw_training_curves(logs, max_panels)
    return None if fig is None else _save(fig, path)


def draw_training_curves(logs: Mapping[str, pd.DataFrame], max_panels: int = 12):
    """The figure of :func:`training_panels` (3 columns, colour per run, line style per loss term)."""
    panels = training_panels(logs)[:max_panels]
    if not panels:
        return None
    colours = {run: plt.get_cmap("tab10")(i % 10) for i, run in enumerate(logs)}
    nc = min(3, len(panels))
    nr = int(np.ceil(len(panels) / nc))
    fig, axes = plt.subplots(nr, nc, figsize=(4.4 * nc, 3.2 * nr), squeeze=False)
    for ax, (title, ylabel, lines) in zip(axes.ravel(), panels):
        for legend, x, y, dashed in lines:
            run = legend.split(": ")[0]
            term = next((t for t in TERMS if legend.endswith(": " + t.split("_")[1])), None)
            style = "--" if dashed else TERMS[term] if term else "-"
            ax.plot(x, y, style, color=colours.get(run, "k"), lw=1.2, label=legend,
                    marker="o" if len(x) < 15 and not dashed else None, ms=3)
        ax.set_title(title)
        ax.set_xlabel("optimiser step")
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        if len(lines) > 1:
            ax.legend(fontsize=7, loc="best")
    for ax in axes.ravel()[len(panels):]:
        ax.axis("off")
    fig.tight_layout()
    return fig
