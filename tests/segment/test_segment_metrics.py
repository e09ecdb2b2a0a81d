"""match_labels: F1 / precision / recall at an IoU threshold, against a per-object reference."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from madcell.segment.metrics import match_labels


def _reference(true, pred, thr):
    """Per-object loop: a true object is found when some predicted object has IoU > thr with it."""
    tp = 0
    for t in np.unique(true[true > 0]):
        tm = true == t
        for p in np.unique(pred[tm & (pred > 0)]):
            pm = pred == p
            if (tm & pm).sum() / (tm | pm).sum() > thr:
                tp += 1
    return tp


def _blobs(seed, shape=(96, 96)):
    rng = np.random.default_rng(seed)
    labels, _ = ndimage.label(ndimage.gaussian_filter(rng.random(shape), 2.5) > 0.52)
    return labels


def test_identical_images_match_perfectly():
    lab = _blobs(0)
    m = match_labels(lab, lab)
    assert m.tp == m.n_true == m.n_pred > 5
    assert m.f1 == m.precision == m.recall == m.mean_matched_iou == 1.0


@pytest.mark.parametrize("thr", [0.5, 0.7, 0.9])
def test_agrees_with_per_object_loop(thr):
    true = _blobs(1)
    pred = ndimage.grey_dilation(np.roll(_blobs(1), 1, axis=1), size=2)  # shifted and grown
    pred[_blobs(2) > 0] = 0  # some objects lost or split
    m = match_labels(true, pred, thr)
    assert m.tp == _reference(true, pred, thr)
    assert m.n_true == len(np.unique(true)) - 1 and m.n_pred == len(np.unique(pred)) - 1
    assert m.f1 == pytest.approx(2 * m.tp / (m.n_true + m.n_pred))
    assert (m.fp, m.fn) == (m.n_pred - m.tp, m.n_true - m.tp)


def test_split_object_and_sparse_ids():
    true = np.zeros((10, 10), int)
    true[:, :6] = 7  # one object, label 7 (ids need not be contiguous)
    pred = np.zeros((10, 10), int)
    pred[:, :3], pred[:, 3:6] = 1000, 2  # split in two halves: neither has IoU > 0.5
    pred[0, 9] = 5  # a false positive
    m = match_labels(true, pred)
    assert (m.tp, m.n_true, m.n_pred, m.f1) == (0, 1, 3, 0.0)
    pred[:, :4] = 1000  # now 1000 covers 4/6 of it
    assert match_labels(true, pred).tp == 1


def test_image_without_background_and_bad_arguments():
    full = np.ones((4, 4), int)
    assert match_labels(full, full).f1 == 1.0
    with pytest.raises(ValueError, match="0.5"):
        match_labels(full, full, 0.3)
    with pytest.raises(ValueError, match="shape"):
        match_labels(full, full[:2])
