"""The default nucleus segmenter: threshold, distance transform, peak markers, watershed.

For a nuclear signal (nuclei bright; see :mod:`madcell.segment.stain`) and the expected nucleus
diameter ``d`` in pixels:

1. smooth with a Gaussian of sigma ``0.1 d`` (chromatin texture and shot noise);
2. foreground = pixels above their local mean (a Gaussian of sigma ``2 d / 3``, i.e. a window of
   about four nuclei: dim nuclei next to bright ones still stand out) **and** above half the
   slide-wide Otsu threshold (so flat background never becomes foreground); holes filled, then an
   opening of radius ``0.1 d`` removes thin bridges and specks;
3. Euclidean distance to the background, lightly smoothed; its local maxima at least ``0.4 d``
   apart, within each connected blob, are the markers, one per nucleus;
4. watershed of the negative distance from the markers inside the foreground splits touching
   nuclei along their necks;
5. objects smaller than a tenth of a disc of diameter ``d`` are dropped.

Every step looks at most about ``3 d`` around a pixel, which sets the halo of the tiling
(:func:`madcell.segment.tiled.halo_px`). The constants were chosen on the synthetic tissue and the
StarDist example image (``benchmarks/segmentation.py``), not per slide.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

SMOOTH, LOCAL_SIGMA, FLOOR, OPENING, MIN_DISTANCE, MIN_AREA = 0.1, 2 / 3, 0.5, 0.1, 0.4, 0.1


def smooth_sigma(diameter_px: float) -> float:
    """Sigma (px) of the denoising Gaussian for nuclei of ``diameter_px``."""
    return max(SMOOTH * diameter_px, 0.5)


def watershed_nuclei(signal: np.ndarray, otsu: float, diameter_px: float) -> np.ndarray:
    """int32 nucleus labels (0 background) of one (h, w) nuclear-signal window."""
    from skimage.feature import peak_local_max
    from skimage.morphology import disk
    from skimage.segmentation import watershed

    d = float(diameter_px)
    smooth = ndimage.gaussian_filter(signal.astype(np.float32, copy=False), smooth_sigma(d))
    local = ndimage.gaussian_filter(smooth, LOCAL_SIGMA * d)
    fg = ndimage.binary_fill_holes((smooth > local) & (smooth > FLOOR * otsu))
    fg = ndimage.binary_opening(fg, disk(max(1, int(round(OPENING * d)))))
    if not fg.any():
        return np.zeros(signal.shape, np.int32)
    dist = ndimage.gaussian_filter(ndimage.distance_transform_edt(fg), 1.0)
    blobs, _ = ndimage.label(fg)
    peaks = peak_local_max(dist, min_distance=max(1, int(round(MIN_DISTANCE * d))), labels=blobs,
                           exclude_border=False)
    markers = np.zeros(signal.shape, np.int32)
    markers[tuple(peaks.T)] = np.arange(1, len(peaks) + 1, dtype=np.int32)
    labels = watershed(-dist, markers, mask=fg).astype(np.int32)
    area = np.bincount(labels.ravel())
    small = area < MIN_AREA * np.pi * (d / 2) ** 2
    small[0] = False
    labels[small[labels]] = 0
    return labels


class SkimageSegmenter:
    """Callable (C, h, w) raw window -> nucleus labels, with the slide-wide Otsu threshold fixed."""

    name = "skimage"

    def __init__(self, stain, otsu: float, diameter_px: float):
        self.stain, self.otsu, self.diameter_px = stain, float(otsu), float(diameter_px)

    def __call__(self, raw: np.ndarray) -> np.ndarray:
        return watershed_nuclei(self.stain.signal(raw), self.otsu, self.diameter_px)
