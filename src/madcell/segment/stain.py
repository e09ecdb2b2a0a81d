"""The nuclear signal of an image window, and its slide-wide statistics.

Every segmenter sees nuclei as bright objects on a dark background:

* ``he`` (brightfield RGB): colour deconvolution with the Ruifrok & Johnston stain vectors
  (:func:`skimage.color.rgb2hed`); the haematoxylin optical density is high in nuclei, near 0 on
  glass and low in eosin-stained cytoplasm and stroma;
* ``fluorescence``: one named nuclear channel (DAPI, Hoechst, ...), as is.

Thresholds and normalisation ranges must be the same in every tile, or objects would change at
tile seams, so they come from one pass over a fixed grid of sample windows spread over the slide
(:func:`sample_stats`), never from the tile being segmented. On H&E the glass (total optical
density < ``GLASS_OD``) is left out of the sample, so the threshold separates nuclei from tissue and
not tissue from glass.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy import ndimage

from madcell.errors import InputError

MODALITIES = ("he", "fluorescence")
NUCLEAR_NAMES = ("dapi", "hoechst", "nucleus", "nuclei", "nuclear", "dna", "draq5", "h3342")
GLASS_OD = 0.15  # summed RGB optical density below which an H&E pixel is glass
SAMPLE_GRID, SAMPLE_SIDE, SAMPLE_PIXELS = 4, 1024, 2_000_000


@dataclass
class Stain:
    """How to get the nuclear signal (and a model's input) from a raw (C, h, w) window."""

    modality: str
    channel: int  # index of the nuclear channel (fluorescence); unused for he
    channel_name: str

    def signal(self, raw: np.ndarray) -> np.ndarray:
        """(h, w) float32, nuclei bright: haematoxylin optical density or the nuclear channel."""
        if self.modality == "he":
            from skimage.color import rgb2hed

            return rgb2hed(np.moveaxis(raw[:3], 0, -1)).astype(np.float32)[..., 0]
        return raw[self.channel].astype(np.float32)

    def tissue(self, raw: np.ndarray) -> np.ndarray:
        """(h, w) bool: pixels that may hold nuclei (not glass)."""
        if self.modality == "he":
            od = -np.log(np.maximum(raw[:3].astype(np.float32), 1.0) / 255.0).sum(axis=0)
            return od > GLASS_OD
        return np.ones(raw.shape[1:], bool)

    def model_input(self, raw: np.ndarray) -> np.ndarray:
        """What a deep model takes: RGB (h, w, 3) for H&E, the nuclear channel (h, w) otherwise."""
        if self.modality == "he":
            return np.moveaxis(raw[:3], 0, -1).astype(np.float32)
        return raw[self.channel].astype(np.float32)


def resolve_stain(image, path: Path, modality: str, channel: str | None) -> Stain:
    """Check ``modality`` / ``channel`` against the image; ``auto`` means H&E for 3-channel uint8."""
    n_ch, names = image.shape[0], list(image.channel_names)
    if modality == "auto":
        modality = "he" if n_ch == 3 and np.dtype(image.dtype) == np.uint8 else "fluorescence"
    if modality not in MODALITIES:
        raise InputError("--modality", f"must be auto, he or fluorescence, got {modality!r}")
    if modality == "he":
        if channel is not None:
            raise InputError("--channel", "is for fluorescence images; H&E uses the haematoxylin of the RGB colours")
        if n_ch != 3:
            raise InputError(path, f"an H&E image must be RGB (3 channels), this one has {n_ch} ({names})")
        return Stain("he", 0, "haematoxylin")
    if channel is None:
        found = [i for i, n in enumerate(names) if n.lower() in NUCLEAR_NAMES]
        if n_ch == 1 or len(found) == 1:
            idx = 0 if n_ch == 1 else found[0]
            return Stain("fluorescence", idx, names[idx])
        raise InputError(path, f"cannot tell the nuclear channel among {names}; name it with --channel")
    if channel in names:
        idx = names.index(channel)
    elif channel.isdigit() and int(channel) < n_ch:
        idx = int(channel)
    else:
        raise InputError(path, f"--channel {channel!r} is neither a channel name nor an index of {names}")
    return Stain("fluorescence", idx, names[idx])


@dataclass
class SignalStats:
    """Slide-wide statistics of the sampled nuclear signal."""

    otsu: float  # Otsu threshold of the smoothed signal over tissue pixels
    signal_lo: float  # 1st / 99.8th percentiles of the signal and of the model input
    signal_hi: float  # (deep-model normalisation)
    input_lo: float
    input_hi: float


def sample_windows(height: int, width: int) -> list[tuple[int, int, int, int]]:
    """A SAMPLE_GRID x SAMPLE_GRID grid of windows (at most SAMPLE_SIDE px square) spread evenly
    over the slide (one window when the slide is smaller)."""
    sy, sx = min(SAMPLE_SIDE, height), min(SAMPLE_SIDE, width)
    ys = np.unique(np.linspace(0, height - sy, SAMPLE_GRID).round().astype(int))
    xs = np.unique(np.linspace(0, width - sx, SAMPLE_GRID).round().astype(int))
    return [(int(y), int(y) + sy, int(x), int(x) + sx) for y in ys for x in xs]


def sample_stats(image, stain: Stain, smooth_px: float, path: Path) -> SignalStats:
    """Otsu threshold and percentiles of the nuclear signal over the sample windows."""
    from skimage.filters import threshold_otsu

    _, H, W = image.shape
    rng = np.random.default_rng(0)
    windows = sample_windows(H, W)
    per_window = SAMPLE_PIXELS // len(windows)

    def pick(values: np.ndarray) -> np.ndarray:
        return rng.choice(values, min(per_window, values.size), replace=False)

    smooth, signal, inputs = [], [], []
    for y0, y1, x0, x1 in windows:
        raw = image.read(y0, y1, x0, x1)
        sig = stain.signal(raw)
        tissue = stain.tissue(raw)
        smooth.append(pick(ndimage.gaussian_filter(sig, smooth_px)[tissue]))
        signal.append(pick(sig[tissue]))
        inputs.append(pick(stain.model_input(raw).ravel()))
    smooth, signal, inputs = np.concatenate(smooth), np.concatenate(signal), np.concatenate(inputs)
    if smooth.size == 0 or smooth.min() == smooth.max():
        raise InputError(path, f"the nuclear signal ({stain.channel_name}) is blank or constant: no nuclei to find")
    percentiles = [1.0, 99.8]
    return SignalStats(float(threshold_otsu(smooth)), *map(float, np.percentile(signal, percentiles)),
                       *map(float, np.percentile(inputs, percentiles)))
