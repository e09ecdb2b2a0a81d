"""Object-level agreement of two label images: precision, recall and F1 at an IoU threshold.

A predicted object matches a true one when their intersection over union exceeds the threshold.
For thresholds >= 0.5 a match is unique on both sides (two objects that each cover more than half
of their union with a third cannot be disjoint), so no assignment problem has to be solved: the
matches are just the overlapping pairs above the threshold. The overlapping pairs come from one
contingency of the pixels labelled in both images (``np.unique`` of a combined pair key), never
from a loop over objects.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


@dataclass
class Matching:
    iou_threshold: float
    n_true: int
    n_pred: int
    tp: int
    precision: float
    recall: float
    f1: float
    mean_matched_iou: float  # segmentation quality of the matched pairs

    @property
    def fp(self) -> int:
        return self.n_pred - self.tp

    @property
    def fn(self) -> int:
        return self.n_true - self.tp

    def as_dict(self) -> dict:
        return {**asdict(self), "fp": self.fp, "fn": self.fn}


def _compact(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Labels renumbered 0..n (0 stays background) and the area of each."""
    ids, inv = np.unique(labels, return_inverse=True)
    inv = inv.reshape(labels.shape)
    if ids[0] != 0:  # no background pixel: shift so that 0 stays background
        inv = inv + 1
    return inv, np.bincount(inv.ravel(), minlength=int(inv.max()) + 1)


def match_labels(true: np.ndarray, pred: np.ndarray, iou_threshold: float = 0.5) -> Matching:
    """Match the objects of ``pred`` to those of ``true`` (same-shape integer label images)."""
    if iou_threshold < 0.5:
        raise ValueError(f"iou_threshold must be >= 0.5 (unique matches), got {iou_threshold}")
    true, pred = np.asarray(true), np.asarray(pred)
    if true.shape != pred.shape:
        raise ValueError(f"label images differ in shape: {true.shape} vs {pred.shape}")
    t, area_t = _compact(true)
    p, area_p = _compact(pred)
    both = (t > 0) & (p > 0)
    key, inter = np.unique(t[both].astype(np.int64) * len(area_p) + p[both], return_counts=True)
    ti, pi = np.divmod(key, len(area_p))
    iou = inter / (area_t[ti] + area_p[pi] - inter)
    matched = iou > iou_threshold
    n_true, n_pred = int((area_t[1:] > 0).sum()), int((area_p[1:] > 0).sum())
    tp = int(matched.sum())
    precision = tp / n_pred if n_pred else 0.0
    recall = tp / n_true if n_true else 0.0
    f1 = 2 * tp / (n_true + n_pred) if n_true + n_pred else 0.0
    return Matching(float(iou_threshold), n_true, n_pred, tp, precision, recall, f1,
                    float(iou[matched].mean()) if tp else 0.0)
