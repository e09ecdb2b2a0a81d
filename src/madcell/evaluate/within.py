"""Scoring a label *within* the groups of another label, e.g. subtype within each cell type.

A whole-population probe of ``subtype`` is dominated by telling cell types apart. Questions such as
"is this macrophage tumour-associated or stromal?" are only asked of macrophages: for each group g
of the grouping column (e.g. ``cell_type == macrophage``) that holds at least ``MIN_CELLS`` labelled
cells and two classes, the kNN and linear probes are fit and scored on that group's cells only, with
the same group-aware splits restricted to them and the same bootstrap weights ``W`` as every other
number (so methods stay paired). The result is reported per group and as the unweighted mean over
the scored groups; groups that could not be scored are listed with the reason.

``classes`` optionally restricts the cells to those whose label is one of the named classes (e.g.
the synthetic tissue's context-only subtypes ``macrophage_TAM``/``macrophage_stromal``,
``CAF``/``fibroblast_stromal``, leaving out the ``<type>_proliferating`` classes), so a group's score
answers exactly one question.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from madcell.evaluate.labels import probe_predictions, probe_scores
from madcell.evaluate.samples import SampleLog

MIN_CELLS = 10
PROBES = ("knn", "linear")


def within_metrics(X: np.ndarray, y: np.ndarray, groups: np.ndarray, splits, W: np.ndarray, ec: Mapping,
                   log: SampleLog, path: str, classes: Sequence[str] | None = None) -> dict:
    """``y``/``groups``: per-cell label and group (None = unknown). Returns ``{"knn": {"accuracy",
    "balanced_accuracy"}, "linear": ..., "chance", "groups": {g: ...}, "skipped": {g: reason}}``;
    samples are kept in ``log`` under ``path``.<probe>.<metric> and ``path``.groups.<g>.<probe>.<metric>."""
    ys = y.astype(str)
    ok = np.array([v is not None for v in y]) & np.array([g is not None for g in groups])
    if classes is not None:
        ok &= np.isin(ys, [str(c) for c in classes])
    gs = groups.astype(str)
    out: dict = {"classes": None if classes is None else [str(c) for c in classes], "min_cells": MIN_CELLS,
                 "groups": {}, "skipped": {}}
    scored: dict[str, dict[str, dict[str, tuple]]] = {}
    for g in sorted(set(gs[ok])):
        cells = ok & (gs == g)
        names, counts = np.unique(ys[cells], return_counts=True)
        if cells.sum() < MIN_CELLS or len(names) < 2:
            out["skipped"][g] = f"{int(cells.sum())} labelled cells, {len(names)} class(es)"
            continue
        node: dict = {"n_cells": int(cells.sum()), "classes": {str(c): int(k) for c, k in zip(names, counts)},
                      "chance": float(counts.max() / counts.sum())}
        preds = probe_predictions(X, y, cells, splits, ec, None, mlp=False)
        scored[g] = {}
        for name in PROBES:
            scored[g][name] = probe_scores(preds[name], ys, W)
            node[name] = {m: log.summary(f"{path}.groups.{g}.{name}.{m}", *v) for m, v in scored[g][name].items()}
        out["groups"][g] = node
    out["n_groups"] = len(scored)
    if not scored:
        return out
    out["chance"] = float(np.mean([out["groups"][g]["chance"] for g in scored]))
    for name in PROBES:
        out[name] = {}
        for m in ("accuracy", "balanced_accuracy"):
            pts = np.array([scored[g][name][m][0] for g in scored], dtype=np.float64)
            sms = np.stack([scored[g][name][m][1] for g in scored])
            with np.errstate(invalid="ignore"):
                out[name][m] = log.summary(f"{path}.{name}.{m}", float(np.nanmean(pts)), np.nanmean(sms, axis=0))
    return out
