"""``uns['spatial']`` of the embedding AnnData, so ``scanpy.pl.spatial(adata, color=...)`` needs no
spot size, scale factor or image argument (the layout Space Ranger / ``sc.read_visium`` use).

Per slide (library id = slide id, any '/' replaced by '_')::

    uns['spatial'][slide] = {
        'images': {'hires': (h, w, 3) uint8},
        'scalefactors': {'tissue_hires_scalef': image px per unit of obsm['spatial'],
                         'spot_diameter_fullres': typical cell diameter, in units of obsm['spatial']},
        'metadata': {'slide', 'spatial_unit', 'image' ('thumbnail' | 'blank'), 'image_note',
                     'spot_diameter_source', 'source': 'madcell'},
    }

"fullres" is scanpy's name for the frame of ``obsm['spatial']``: here µm, or slide px when
``uns['madcell']['spatial_unit'] == 'px'``.

* ``hires``: the store's slide thumbnail (:mod:`madcell.data.thumbnail`) placed under the cells
  (:mod:`madcell.embed.spatial_image`); ``metadata['image'] == 'thumbnail'``. A slide without one (a
  store written before thumbnails, a µm frame that is not a scaled and shifted pixel grid) gets a
  white placeholder (scanpy 1.11 raises StopIteration on an empty ``images`` unless ``img_key=None``
  is passed), ``metadata['image'] == 'blank'`` and the reason in ``image_note``.
* ``spot_diameter_fullres``: the median over the slide's cells of the morphology box side (the cell's
  larger bounding-box side: ``morph_um_per_px * morph_size / (1 + 2 morph_margin)``), else the median
  distance between nearest centroids, else 10 µm.

Several slides: scanpy 1.11 refuses ``sc.pl.spatial(adata)`` when ``uns['spatial']`` holds more than one
library; plot one slide with ``sc.pl.spatial(adata[adata.obs.slide == s], library_id=s, color=...)``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from madcell.data.source import ViewSource
from madcell.embed.spatial_image import blank, fit_frame, place

FALLBACK_DIAMETER_UM = 10.0


def cell_box_sides_um(obs: pd.DataFrame, morph_size: int, margin: float) -> np.ndarray:
    """Each cell's larger bounding-box side in µm, from its morphology view's scale (the view is that
    box grown by ``morph_margin`` of its side on each side, resized to ``morph_size``); NaN without it."""
    if "morph_um_per_px" not in obs:
        return np.full(len(obs), np.nan)
    return obs["morph_um_per_px"].to_numpy(np.float64) * morph_size / (1.0 + 2.0 * margin)


def cell_diameter(obs: pd.DataFrame, spatial: np.ndarray, unit: str, px_size: float | None,
                  morph_size: int, margin: float) -> tuple[float, str]:
    """A typical cell diameter of one slide's cells in units of ``spatial``, and how it was found."""
    if "morph_um_per_px" in obs:
        um = cell_box_sides_um(obs, morph_size, margin)
        d = um if unit == "um" else um / (px_size or np.nan)
        if np.isfinite(d).any() and np.nanmedian(d) > 0:
            return float(np.nanmedian(d)), "median morphology box side (larger bounding-box side of the cell)"
    ok = spatial[np.isfinite(spatial).all(1)]
    if len(ok) > 1:
        dist = cKDTree(ok).query(ok, k=2)[0][:, 1]
        if np.median(dist) > 0:
            return float(np.median(dist)), "median distance between nearest cell centroids"
    if unit == "um":
        return FALLBACK_DIAMETER_UM, f"assumed {FALLBACK_DIAMETER_UM:g} µm"
    px = px_size or 0.5
    return FALLBACK_DIAMETER_UM / px, f"assumed {FALLBACK_DIAMETER_UM:g} µm at {px:g} µm per px"


def _image(store: ViewSource, slide: str, xy: np.ndarray, spatial: np.ndarray, scale: float | None):
    """``(image, scalef, kind, note)`` for one slide: its placed thumbnail, or a blank and why."""
    thumbnail = getattr(store, "thumbnail", None)
    got = thumbnail(slide) if thumbnail is not None else None
    why = "the view store has no thumbnail of this slide (written before thumbnails existed?)"
    if got is not None:
        thumb, tscale = got
        fit = fit_frame(xy, spatial, scale)
        placed = None
        if fit is None or fit[2] > 0.5 * fit[0] / tscale:  # off by more than half a thumbnail pixel somewhere
            why = ("obsm['spatial'] is not a scaled and shifted copy of the slide's pixel grid (flipped, rotated "
                   "or unknown pixel size): the thumbnail cannot be placed")
        else:
            placed = place(thumb, tscale, fit[0], fit[1])
            why = "the slide lies at negative obsm['spatial'] coordinates, where scanpy draws no image"
        if placed is not None:
            note = f"slide thumbnail, {tscale:g} thumbnail px per slide px"
            shrink = tscale / fit[0] / placed[1]
            if shrink > 1.001:  # a far origin: the padding up to it made the canvas too big
                note += (f", shrunk {shrink:.0f}x more to fit the black padding from obsm['spatial'] = (0, 0) to "
                         f"the slide's origin ({fit[1][0]:.6g}, {fit[1][1]:.6g})")
            return placed[0], placed[1], "thumbnail", note
    img, scalef = blank(spatial)
    return img, scalef, "blank", why


def spatial_uns(store: ViewSource, obs: pd.DataFrame, spatial: np.ndarray, unit: str) -> dict:
    """``uns['spatial']`` for the cells ``obs`` (store order) at ``spatial`` (= ``obsm['spatial']``)."""
    slides_meta = getattr(store, "slides", None) or {}
    params = getattr(store, "params", None) or {}
    margin = float(params.get("morph_margin", 0.0) or 0.0)
    slide = obs["slide"].astype(str).to_numpy() if "slide" in obs else np.full(len(obs), "slide0")
    xy_all = obs[["x_px", "y_px"]].to_numpy(np.float64)
    out = {}
    for sid in pd.unique(slide):
        m = slide == sid
        px_size = (slides_meta.get(sid) or {}).get("pixel_size_um")
        px_size = float(px_size) if px_size is not None else None
        scale = 1.0 if unit == "px" else px_size  # spatial units per slide px, when it cannot be fitted
        img, scalef, kind, note = _image(store, sid, xy_all[m], spatial[m], scale)
        d, how = cell_diameter(obs[m], spatial[m], unit, px_size, int(store.morph_size), margin)
        out[str(sid).replace("/", "_")] = {  # h5py would nest a key with '/'
            "images": {"hires": img},
            "scalefactors": {"tissue_hires_scalef": float(scalef), "spot_diameter_fullres": d},
            "metadata": {"source": "madcell", "slide": str(sid), "spatial_unit": unit, "image": kind,
                         "image_note": note, "spot_diameter_source": how},
        }
    return out
