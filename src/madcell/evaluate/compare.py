"""Verdicts computed from the numbers: is the reference method (MAD) better than each control?

For every headline metric the *paired* difference reference - control is bootstrapped resample by
resample: both methods were scored on the same cells with the same bootstrap weights (checked via
the fingerprint in bootstrap.npz, :mod:`.samples`), so resample b of each re-weights the same cells.
The verdict for a (metric, control) pair is

* ``wins``  — the 95 % CI of reference - control lies above 0,
* ``loses`` — it lies below 0,
* ``ties``  — it contains 0 (the data cannot tell them apart; not "equal"), or the difference is
  below ``MIN_EFFECT`` (0.001) in size: a consistent but negligible gap (e.g. two rows that share
  most of one model) is numerical, not a result.

Several datasets of one group (e.g. tissue seeds) are pooled by averaging the per-dataset
differences; their bootstrap samples are independent, so averaging resample b across datasets is a
valid bootstrap of the mean difference.

Headline metrics: per label, kNN and linear accuracy, the same within the groups of another label
(mean over groups; each group separately only for the restricted-class scoring ``_selected``, the
named questions such as "macrophage: TAM vs stromal"), the gene-decoding Pearson r and Recall@5.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from madcell.errors import InputError
from madcell.evaluate.bootstrap import summarise
from madcell.evaluate.samples import read_samples

MIN_EFFECT = 1e-3
HEADLINE_PATTERNS = (
    r"labels\.[^.]+\.(knn|linear)\.accuracy",
    r"labels\.[^.]+\.within_[^.]+\.(knn|linear)\.accuracy",
    r"labels\.[^.]+\.within_[^.]+_selected\.groups\.[^.]+\.(knn|linear)\.accuracy",
    r"genes\.pearson",
    r"retrieval\.recall@5",
)


def is_headline(path: str) -> bool:
    return any(re.fullmatch(p, path) for p in HEADLINE_PATTERNS)


def difference_samples(reference: str | Path, control: str | Path) -> dict[str, tuple[float, np.ndarray]]:
    """``{metric: (point, (B,) samples)}`` of reference - control over the headline metrics both have.

    ``reference``/``control``: metrics folders (with bootstrap.npz). InputError if their bootstrap
    weights differ (other cells, order, seed or number of resamples: the pairing would be void)."""
    fr, sr = read_samples(reference)
    fc, sc = read_samples(control)
    if fr != fc:
        raise InputError(control, f"was scored with other bootstrap resamples than {reference} (fingerprint {fc} != "
                                  f"{fr}): same cells, order, seed and bootstrap count are needed for a paired comparison")
    return {p: (sr[p][0] - sc[p][0], sr[p][1].astype(np.float64) - sc[p][1]) for p in sr if p in sc and is_headline(p)}


def _verdict(diff: float, lo: float, hi: float) -> str:
    if not (np.isfinite(diff) and np.isfinite(lo) and np.isfinite(hi)):
        return "n/a"
    if lo > 0 and diff >= MIN_EFFECT:
        return "wins"
    if hi < 0 and diff <= -MIN_EFFECT:
        return "loses"
    return "ties"


def verdict_table(diffs: Sequence[Mapping[str, Mapping[str, tuple]]], ci: float = 0.95) -> pd.DataFrame:
    """Rows (metric, control, n_datasets, diff, lo, hi, verdict) from per-dataset ``{control: {metric:
    (point, samples)}}`` (one mapping per dataset of a group; differences averaged over datasets)."""
    pooled: dict[tuple[str, str], list] = {}
    for per_ds in diffs:
        for control, metrics in per_ds.items():
            for m, v in metrics.items():
                pooled.setdefault((m, control), []).append(v)
    rows = []
    for (m, control), vals in pooled.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            pt = float(np.nanmean([v[0] for v in vals]))
            sm = np.nanmean(np.stack([v[1] for v in vals]), axis=0)
        s = summarise(pt, sm, ci)
        rows.append({"metric": m, "control": control, "n_datasets": len(vals), "diff": s["mean"], "lo": s["lo"],
                     "hi": s["hi"], "verdict": _verdict(s["mean"], s["lo"], s["hi"])})
    return pd.DataFrame(rows, columns=["metric", "control", "n_datasets", "diff", "lo", "hi", "verdict"])


def short_name(metric: str) -> str:
    """Display name: ``labels.subtype.within_cell_type_selected.groups.macrophage.knn.accuracy`` ->
    ``subtype within_cell_type_selected [macrophage] knn``."""
    m = re.sub(r"^labels\.", "", metric)
    m = re.sub(r"\.accuracy$", "", m)
    m = re.sub(r"\.groups\.([^.]+)\.", r" [\1] ", m)
    return m.replace(".", " ")


def format_verdicts(table: pd.DataFrame, reference: str) -> str:
    """Markdown: one row per metric, one column per control, ``verdict diff [lo, hi]``."""
    if table.empty:
        return "(no paired comparisons)"
    controls = list(dict.fromkeys(table["control"]))
    cell = {(r.metric, r.control): f"{r.verdict} {r.diff:+.3f} [{r.lo:+.3f}, {r.hi:+.3f}]" if np.isfinite(r.diff) else "n/a"
            for r in table.itertuples()}
    lines = [f"| {reference} − control | " + " | ".join(controls) + " |", "|---" * (len(controls) + 1) + "|"]
    for m in dict.fromkeys(table["metric"]):
        lines.append(f"| {short_name(m)} | " + " | ".join(cell.get((m, c), "") for c in controls) + " |")
    counts = table["verdict"].value_counts()
    lines.append("")
    lines.append(f"Paired bootstrap difference {reference} − control, 95 % CI (accuracy unless named; full names "
                 "in verdicts.csv); wins / loses: CI above / below 0, "
                 f"ties: CI contains 0 (or |difference| < {MIN_EFFECT}). Totals: " + ", ".join(f"{v} {int(counts.get(v, 0))}" for v in ("wins", "ties", "loses")))
    return "\n".join(lines)
