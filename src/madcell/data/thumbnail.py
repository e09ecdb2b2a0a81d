"""Slide thumbnails in the materialised view store::

    thumbnails/<k>   (h, w, 3) uint8 RGB overview of the k-th slide (made by
                     :mod:`madcell.views.thumbnail`: block means of the normalised channels, mixed to RGB)
                     attrs: slide (its slide id, as in the ``slide`` dataset), scale (thumbnail px per
                     slide px, e.g. 0.25 for 4 x 4 blocks), colours (JSON: (C, 3) RGB weight per channel)

Stores written before thumbnails existed have no ``thumbnails`` group: :func:`read_thumbnail` returns
None for them (the layout string is unchanged; the group is an addition readers may ignore). Lazy
stores have none either: they make theirs from their slide pyramid (:mod:`madcell.data.lazy`).
"""

from __future__ import annotations

import json

import h5py
import numpy as np

GROUP = "thumbnails"


def write_thumbnail(h5: h5py.File, k: int, slide: str, image: np.ndarray, scale: float, colours: np.ndarray) -> None:
    """Store slide ``k``'s (h, w, 3) uint8 thumbnail."""
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f"a thumbnail is (h, w, 3) uint8, not {image.shape} {image.dtype}")
    ds = h5.require_group(GROUP).create_dataset(str(k), data=image, chunks=True, compression="lzf")
    ds.attrs["slide"] = str(slide)
    ds.attrs["scale"] = float(scale)
    ds.attrs["colours"] = json.dumps(np.asarray(colours, float).round(4).tolist())


def read_thumbnail(h5: h5py.File, slide: str) -> tuple[np.ndarray, float] | None:
    """(image (h, w, 3) uint8, thumbnail px per slide px) of slide ``slide``, or None without one."""
    if GROUP not in h5:
        return None
    for ds in h5[GROUP].values():
        if str(ds.attrs.get("slide")) == str(slide):
            return ds[:], float(ds.attrs["scale"])
    return None
