"""Training curves: the long-format metrics.csv is pivoted, one panel per quantity, chance lines dashed."""

from __future__ import annotations

import matplotlib.image as mpimg
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from madcell.report.curves import draw_training_curves, plot_training_curves, training_panels, wide_log


def _long_log(seed: int = 0) -> pd.DataFrame:
    """A metrics.csv as MetricLog writes it: (step, epoch, name, value) rows."""
    rng = np.random.default_rng(seed)
    rows = []
    for step in range(5, 55, 5):
        for name, value in (("train/loss", 9.0 - 0.1 * step), ("train/loss_mm", 2.0), ("train/loss_uu", 2.1),
                            ("train/loss_mu", 2.5), ("train/loss_um", 2.4), ("train/lr", 1e-4 * step),
                            ("train/teacher_entropy", 5.0 + rng.normal(0, 0.01))):
            rows.append((step, 0, name, value))
    for step in (0, 25, 50):
        rows += [(step, 0, "eval/recall@5", 0.01 + step / 1000), (step, 0, "eval/recall@5_chance", 0.0167),
                 (step, 0, "eval/knn_cell_type", 0.8 + step / 500), (step, 0, "eval/knn_cell_type_chance", 0.3),
                 (step, 0, "eval/knn_cell_type_balanced", 0.7)]
    return pd.DataFrame(rows, columns=["step", "epoch", "name", "value"])


def test_panels_hold_one_quantity_each_with_chance_lines():
    panels = {title: (ylabel, lines) for title, ylabel, lines in training_panels({"mad": _long_log(), "morph": _long_log(1)})}
    assert list(panels) == ["total loss", "MAD loss terms", "teacher entropy", "cross-view recall@5 (held-out cells)",
                            "kNN probe: cell_type", "learning rate"]
    ylabel, lines = panels["total loss"]
    assert ylabel == "loss" and [l[0] for l in lines] == ["mad", "morph"]
    x, y = lines[0][1], lines[0][2]
    assert x.tolist() == list(range(5, 55, 5)) and np.allclose(y, 9.0 - 0.1 * x)  # loss only: no lr / recall mixed in
    terms = [l[0] for l in panels["MAD loss terms"][1]]
    assert terms[:4] == ["mad: mm", "mad: uu", "mad: mu", "mad: um"]
    rec = panels["cross-view recall@5 (held-out cells)"][1]
    assert [(l[0], l[3]) for l in rec][:2] == [("mad", False), ("mad: chance", True)]
    assert rec[1][2].tolist() == [0.0167] * 3
    assert panels["learning rate"][1][0][2].max() == 1e-4 * 50
    assert not any("balanced" in t for t in panels)


def test_figure_is_drawn_with_axis_labels(tmp_path):
    fig = draw_training_curves({"mad": _long_log()})
    axes = [ax for ax in fig.axes if ax.get_visible() and ax.axison]
    assert [ax.get_title() for ax in axes][:2] == ["total loss", "MAD loss terms"]
    assert {ax.get_xlabel() for ax in axes} == {"optimiser step"}
    assert [ax.get_ylabel() for ax in axes] == ["loss", "cross-entropy", "nats", "recall", "accuracy", "lr"]
    recall = axes[3].get_lines()
    assert recall[1].get_linestyle() == "--" and list(recall[1].get_ydata()) == [0.0167] * 3
    assert list(recall[0].get_xdata()) == [0.0, 25.0, 50.0]
    plt.close(fig)
    path = plot_training_curves({"mad": _long_log()}, tmp_path / "curves.png")
    img = mpimg.imread(path)
    assert img.shape[0] > 300 and img.shape[1] > 600  # 2 rows x 3 panels
    assert plot_training_curves({"mad": _long_log().iloc[:0]}, tmp_path / "none.png") is None
    assert wide_log(_long_log()).loc[50, "eval/recall@5"] == pytest.approx(0.06)
