"""Does the segmentation sit on the image? A registration check before any view is cut.

A wrong ``origin_um`` (or pixel size, or crop offset) moves every polygon and centroid together, so
the mask and the cell table still agree with each other while both miss the image: every view would
show the wrong pixels, and cells pushed off the image would be dropped, all with exit 0.

:func:`mask_offset` correlates the foreground of the label mask (label > 0) with each image channel
over a few large windows, for every shift up to ``max_shift`` px at once (FFT cross-correlation,
absolute value, so dark nuclei on H&E count like bright ones on DAPI), summed over windows and
channels. On correct data the best shift is (0, 0) (all five real sets in ``../shared/data``: ratio
1.00, or 1.05 at one 1.7-µm pixel); a 5 / 10 / 20 µm origin error on the MERSCOPE set gives ratios
1.39 / 2.58 / 3.56 at the right shifts (44 / 91 / 181 px).
"""

from __future__ import annotations

import numpy as np

from madcell.errors import InputError
from madcell.io.base import SlideData


def _shift_scores(img: np.ndarray, fg: np.ndarray, max_shift: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """|normalised cross-correlation| for shifts dy, dx in [-max_shift, max_shift] (zero-padded FFT)."""
    a = (img - img.mean()) / (img.std() + 1e-9)
    b = (fg - fg.mean()) / (fg.std() + 1e-9)
    P = (a.shape[0] + 2 * max_shift, a.shape[1] + 2 * max_shift)
    cc = np.fft.irfft2(np.fft.rfft2(a, s=P) * np.conj(np.fft.rfft2(b, s=P)), s=P) / a.size
    ys = np.r_[0:max_shift + 1, P[0] - max_shift:P[0]]
    xs = np.r_[0:max_shift + 1, P[1] - max_shift:P[1]]
    dy = np.where(ys > max_shift, ys - P[0], ys)
    dx = np.where(xs > max_shift, xs - P[1], xs)
    return np.abs(cc[np.ix_(ys, xs)]), dy, dx


def mask_offset(slide: SlideData, channels: list[int], window: int = 1024, max_shift: int = 256) -> dict:
    """``{"dy", "dx", "ratio"}``: the shift (px) of the image relative to the mask that fits best and
    how much better it fits than no shift (``ratio`` 1.0 = no shift is best); None without foreground."""
    _, H, W = slide.image.shape
    S = int(min(window, H, W))
    ms = int(max(1, min(max_shift, S // 4)))
    total, dy, dx = None, None, None
    for y0 in np.unique(np.linspace(0, H - S, 2).astype(int)):
        for x0 in np.unique(np.linspace(0, W - S, 2).astype(int)):
            fg = (slide.labels.read(y0, y0 + S, x0, x0 + S) > 0).astype(np.float32)
            if not 0.02 <= fg.mean() <= 0.98:
                continue
            img = np.asarray(slide.image.read(y0, y0 + S, x0, x0 + S), dtype=np.float32)[channels]
            for plane in img:
                if not np.isfinite(plane).all() or plane.std() == 0:
                    continue
                sc, dy, dx = _shift_scores(plane, fg, ms)
                total = sc if total is None else total + sc
    if total is None:
        return {"dy": 0, "dx": 0, "ratio": None}
    i, j = np.unravel_index(np.argmax(total), total.shape)
    at0 = total[np.flatnonzero(dy == 0)[0], np.flatnonzero(dx == 0)[0]]
    return {"dy": int(dy[i]), "dx": int(dx[j]), "ratio": float(total[i, j] / max(at0, 1e-12))}


def check_registration(slide: SlideData, channels: list[int], cfg: dict) -> dict:
    """Error when the mask fits the image clearly better shifted (``prepare.max_registration_ratio``,
    null = off) by at least 3 px; returns the measurement for the store's report."""
    limit = cfg.get("max_registration_ratio")
    if limit is None:
        return {}
    r = mask_offset(slide, channels)
    shift = float(np.hypot(r["dy"], r["dx"]))
    if r["ratio"] is not None and r["ratio"] >= float(limit) and shift >= 3:
        ps = slide.pixel_size_um
        um = f" = ({r['dx'] * ps:+.1f}, {r['dy'] * ps:+.1f}) µm" if ps else ""
        raise InputError(slide.source, f"the cell segmentation does not sit on the image of slide {slide.slide_id!r}: "
                                       f"it fits {r['ratio']:.2f}x better shifted by (dx, dy) = ({r['dx']:+d}, "
                                       f"{r['dy']:+d}) px{um}. Check origin_um / the pixel size / crop offsets "
                                       "(prepare.max_registration_ratio=null skips this check)")
    return {"registration_shift_px": [r["dx"], r["dy"]], "registration_ratio": r["ratio"]}
