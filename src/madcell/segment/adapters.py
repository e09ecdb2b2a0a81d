"""Thin adapters for StarDist and Cellpose, used in place of the default segmenter.

Both run only when the package is importable **and** the user names a local model (a StarDist
model folder with ``config.json`` and weights; a Cellpose model file or folder): madcell never
downloads weights. Each is a callable (C, h, w) raw window -> int32 nucleus labels, like
:class:`madcell.segment.skimage_seg.SkimageSegmenter`, so the tiling, halo and expansion of
:mod:`madcell.segment.tiled` apply unchanged.

Inputs are normalised with slide-wide percentiles (1 and 99.8, :func:`madcell.segment.stain.sample_stats`)
rather than per tile, so a tile holds the same values whichever window it is read in. StarDist
gets RGB for H&E (as its ``2D_versatile_he`` model expects) and the nuclear channel otherwise;
Cellpose gets the nuclear signal (haematoxylin or channel) and the nucleus diameter in pixels.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from madcell.errors import InputError

INSTALL = {"stardist": "pip install stardist tensorflow", "cellpose": "pip install cellpose"}


def check_method(method: str, model: Path | None) -> None:
    """InputError unless ``method`` can run here: package importable, local model given and present."""
    if method not in INSTALL:
        raise InputError("--method", f"must be skimage, stardist or cellpose, got {method!r}")
    if model is None:
        raise InputError("--model", f"--method {method} needs a local model (--model PATH); "
                                    "madcell never downloads model weights")
    if not Path(model).exists():
        raise InputError(model, "model file or folder does not exist")
    if importlib.util.find_spec(method) is None:
        raise InputError("--method", f"{method} is not installed here ({INSTALL[method]}), "
                                     "or use --method skimage")


class _Normalised:
    """Feeds ``prepare(raw)`` scaled so that the slide's 1st / 99.8th percentiles map to 0 / 1."""

    def __init__(self, prepare, lo: float, hi: float):
        self.prepare, self.lo, self.scale = prepare, float(lo), 1.0 / max(float(hi) - float(lo), 1e-12)

    def input(self, raw: np.ndarray) -> np.ndarray:
        return ((self.prepare(raw) - self.lo) * self.scale).astype(np.float32)


class StarDistSegmenter(_Normalised):
    name = "stardist"

    def __init__(self, model: Path, stain, stats):
        super().__init__(stain.model_input, stats.input_lo, stats.input_hi)
        from stardist.models import StarDist2D

        model = Path(model)
        try:
            self.model = StarDist2D(None, name=model.name, basedir=str(model.parent))
        except Exception as exc:
            raise InputError(model, f"cannot load a StarDist 2D model ({type(exc).__name__}: {exc})") from None

    def __call__(self, raw: np.ndarray) -> np.ndarray:
        labels, _ = self.model.predict_instances(self.input(raw))
        return labels.astype(np.int32)


class CellposeSegmenter(_Normalised):
    name = "cellpose"

    def __init__(self, model: Path, stain, stats, diameter_px: float):
        super().__init__(stain.signal, stats.signal_lo, stats.signal_hi)
        from cellpose import models

        self.diameter_px = float(diameter_px)
        try:
            self.model = models.CellposeModel(gpu=False, pretrained_model=str(model))
        except Exception as exc:
            raise InputError(model, f"cannot load a Cellpose model ({type(exc).__name__}: {exc})") from None

    def __call__(self, raw: np.ndarray) -> np.ndarray:
        masks = self.model.eval(self.input(raw), diameter=self.diameter_px, normalize=False)[0]
        return np.asarray(masks, np.int32)
