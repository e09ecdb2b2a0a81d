"""The bootstrap samples behind the headline numbers, kept so two methods can be compared *paired*.

Every method of a benchmark is scored on the same cells with the same bootstrap weight matrix ``W``
(same seed, same cells, same slide strata), so resample b of method A and resample b of method B
re-weight exactly the same cells. The difference A - B can then be bootstrapped resample by
resample, which is far tighter than comparing two separate intervals. ``evaluate_anndata`` records
the point estimate and the (B,) resampled values of each headline metric in a :class:`SampleLog`;
``write_metrics`` writes them to ``bootstrap.npz`` next to metrics.json, together with a fingerprint
of ``W``'s inputs, which :mod:`madcell.evaluate.compare` checks before pairing two files.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from madcell.evaluate.bootstrap import summarise
from madcell.utils.atomic import atomic_path

SAMPLES_FILE = "bootstrap.npz"


def weights_fingerprint(cell_ids, n_boot: int, seed: int, strata: np.ndarray) -> str:
    """Hash of everything :func:`~madcell.evaluate.bootstrap.bootstrap_weights` depends on: equal
    fingerprints mean identical resamples of identical cells."""
    h = hashlib.sha256()
    h.update(json.dumps([int(n_boot), int(seed)]).encode())
    h.update("\x00".join(map(str, cell_ids)).encode())
    h.update(np.ascontiguousarray(strata, dtype=np.int64).tobytes())
    return h.hexdigest()[:16]


class SampleLog:
    """``path -> (point, (B,) samples)`` of scalar metrics, filled while summarising them."""

    def __init__(self, fingerprint: str, ci: float = 0.95):
        self.fingerprint, self.ci = fingerprint, ci
        self.points: dict[str, float] = {}
        self.samples: dict[str, np.ndarray] = {}

    def summary(self, path: str, point, samples: np.ndarray) -> dict:
        """:func:`summarise` ``(point, samples)`` and keep both under ``path`` (scalar metrics only)."""
        samples = np.asarray(samples, dtype=np.float64)
        if np.ndim(point) == 0 and samples.ndim == 1:
            self.points[path] = float(point)
            self.samples[path] = samples.astype(np.float32)
        return summarise(point, samples, self.ci)


def write_samples(log: SampleLog, out_dir: str | Path) -> Path:
    path = Path(out_dir) / SAMPLES_FILE
    names = sorted(log.samples)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            np.savez_compressed(fh, names=np.array(names, dtype=str), fingerprint=np.array(log.fingerprint),
                                points=np.array([log.points[n] for n in names], dtype=np.float64),
                                samples=np.stack([log.samples[n] for n in names]) if names else np.zeros((0, 0)))
    return path


def read_samples(metrics_dir: str | Path) -> tuple[str, dict[str, tuple[float, np.ndarray]]]:
    """(fingerprint, ``{path: (point, samples)}``) of a metrics folder (or its bootstrap.npz)."""
    from madcell.errors import InputError

    p = Path(metrics_dir)
    p = p / SAMPLES_FILE if p.is_dir() else p
    if not p.exists():
        raise InputError(p, "has no bootstrap samples (re-run evaluate with this madcell version)")
    with np.load(p) as z:
        names, points, samples = [str(n) for n in z["names"]], z["points"], z["samples"]
        return str(z["fingerprint"]), {n: (float(points[i]), samples[i]) for i, n in enumerate(names)}
