"""Place a slide's thumbnail under ``obsm['spatial']``, the way ``scanpy.pl.spatial`` draws it.

scanpy draws the image with ``imshow`` (image pixel ``(r, c)`` centred at ``(x, y) = (c, r)``) and each
cell at ``obsm['spatial'] * tissue_hires_scalef``. ``obsm['spatial']`` is in µm (or slide px), and a
reader may put the µm origin anywhere (a global stage frame) or flip / rotate it. So, per slide:

1. :func:`fit_frame` fits ``spatial = a + s * (x_px, y_px)`` (one scale ``s`` in spatial units per slide
   px, an offset ``a`` per axis) to the slide's cells; a flipped, rotated or anisotropic frame leaves a
   residual and gets no image (:func:`place` returns None);
2. ``tissue_hires_scalef = thumbnail scale / s`` (image px per spatial unit), and the thumbnail is
   shifted by whole pixels (black padding where ``a > 0``, cropped where ``a < 0``) so that every pixel
   lands where its slide pixels are, to within half an image pixel;
3. a canvas whose padding makes it longer than ``HIRES_MAX`` is block-averaged by the smallest integer
   factor that fits (the scale factor shrinks by it).
"""

from __future__ import annotations

import numpy as np

from madcell.views.thumbnail import HIRES_MAX, block_sums, thumbnail_factor


def fit_frame(xy_px: np.ndarray, spatial: np.ndarray, default_scale: float | None) -> tuple[float, np.ndarray, float] | None:
    """``(s, a, max residual)`` of ``spatial ~ a + s * xy_px`` (least squares; ``default_scale`` when the
    cells do not spread, e.g. a single cell), or None when there is no usable scale."""
    if not len(xy_px) or not (np.isfinite(xy_px).all() and np.isfinite(spatial).all()):
        return None
    dxy, dsp = xy_px - xy_px.mean(0), spatial - spatial.mean(0)
    var = float((dxy ** 2).sum())
    s = float((dxy * dsp).sum()) / var if var > 0 else default_scale
    if s is None or not np.isfinite(s) or s <= 0:
        return None
    a = spatial.mean(0) - s * xy_px.mean(0)
    return s, a, float(np.abs(spatial - (a + s * xy_px)).max())


def place(thumb: np.ndarray, tscale: float, s: float, a: np.ndarray) -> tuple[np.ndarray, float] | None:
    """``(image, tissue_hires_scalef)``: the (h, w, 3) uint8 thumbnail (``tscale`` thumbnail px per slide
    px) on a canvas where ``spatial * scalef`` is its pixel coordinate; None if it falls wholly at
    negative coordinates."""
    scalef = tscale / s
    # thumbnail pixel j holds slide px [j t, (j + 1) t), centred at spatial * scalef = a scalef + j + 0.5 - tscale / 2
    ox, oy = (int(v) for v in np.rint(a * scalef + 0.5 - 0.5 * tscale))
    img = thumb[max(-oy, 0):, max(-ox, 0):]
    ox, oy = max(ox, 0), max(oy, 0)
    if not img.size:
        return None
    H, W = img.shape[0] + oy, img.shape[1] + ox
    k = thumbnail_factor(H, W, HIRES_MAX)
    if k == 1:
        canvas = np.zeros((H, W, 3), np.uint8)
        canvas[oy:, ox:] = img
        return canvas, scalef
    q = (k - 1) // 2  # new pixel i = canvas [i k - q, (i + 1) k - q): centred on i after the shrink
    rows, by = block_sums(img.astype(np.float32), oy + q, k, 0)
    part, bx = block_sums(rows, ox + q, k, 1)
    canvas = np.zeros((-(-(H + q) // k), -(-(W + q) // k), 3), np.float32)
    canvas[by:by + part.shape[0], bx:bx + part.shape[1]] = part  # padding counts as black pixels

    def cover(n: int, length: int) -> np.ndarray:  # canvas pixels under each new pixel
        i = np.arange(n)
        return np.minimum((i + 1) * k - q, length) - np.maximum(i * k - q, 0)

    canvas /= (cover(canvas.shape[0], H)[:, None] * cover(canvas.shape[1], W)[None, :])[..., None]
    return np.rint(np.clip(canvas, 0, 255)).astype(np.uint8), scalef / k


def blank(spatial: np.ndarray, side: int = 256) -> tuple[np.ndarray, float]:
    """A white placeholder image (longest side ``side`` px) over ``[0, max coordinate]`` and its scale
    factor, for slides without a placeable thumbnail: scanpy 1.11's ``sc.pl.spatial`` raises
    StopIteration on ``images == {}`` unless called with ``img_key=None``."""
    top = np.nanmax(spatial, axis=0) if len(spatial) else np.zeros(2)
    top = np.where(np.isfinite(top), top, 0.0)
    scalef = side / max(float(top.max()), 1.0)
    h, w = (int(np.ceil(max(v, 0.0) * scalef)) + 1 for v in (top[1], top[0]))
    return np.full((h, w, 3), 255, np.uint8), scalef
