"""Open an image or a label mask file as a lazy source, whatever its container.

TIFF / OME-TIFF go through :mod:`madcell.io.tiff` (windowed, never fully loaded); JPEG and PNG
cannot be read by window, so they are decoded once with Pillow into an :class:`ArrayImage`
(vendor JPEGs are small: CosMx FOV composites, MERSCOPE mini mosaics). ``.npy`` masks are
memory-mapped. :class:`StackedImage` joins single-channel files (one per stain, as MERSCOPE writes
them) into one multi-channel source.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from madcell.errors import InputError
from madcell.io.base import ArrayImage, ArrayLabels, ImageSource, LabelSource
from madcell.io.tiff import TiffImage, TiffLabels

TIFF_SUFFIXES = (".tif", ".tiff")
PIL_SUFFIXES = (".png", ".jpg", ".jpeg")


def _pil_array(path: Path) -> np.ndarray:
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = None  # our own files; the size is checked by the caller's memory, not PIL
    try:
        with Image.open(path) as im:
            im.load()
            if im.mode in ("P", "RGBA", "LA", "CMYK", "YCbCr"):
                im = im.convert("RGB" if im.mode != "LA" else "L")
            arr = np.asarray(im)
    except Exception as exc:
        raise InputError(path, f"cannot read image ({type(exc).__name__}: {exc})") from None
    return arr


def open_image(path: str | Path, channels: list[str] | None = None, z: int = 0) -> tuple[ImageSource, float | None]:
    """Image source for ``path`` and the pixel size its metadata gives (µm, or None)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "image file does not exist")
    name = path.name.lower()
    if name.endswith(TIFF_SUFFIXES):
        image = TiffImage(path, z=z)
        pixel_size = image.pixel_size_um
    elif name.endswith(PIL_SUFFIXES):
        arr = _pil_array(path)
        data = arr[None] if arr.ndim == 2 else np.moveaxis(arr, -1, 0)
        names = ["R", "G", "B"] if data.shape[0] == 3 else [f"ch{i}" for i in range(data.shape[0])]
        image, pixel_size = ArrayImage(np.ascontiguousarray(data), names), None
    else:
        raise InputError(path, "unsupported image format (use OME-TIFF/TIFF, PNG or JPEG)")
    if channels:
        image = select_channels(image, list(channels), path)
    return image, pixel_size


def select_channels(image: ImageSource, names: list[str], path: Path) -> ImageSource:
    """Keep the named channels; InputError naming the file when one does not exist."""
    if isinstance(image, TiffImage):
        return image.select(names)
    missing = [n for n in names if n not in image.channel_names]
    if missing:
        raise InputError(path, f"channel(s) {missing} not in the image (it has {list(image.channel_names)})")
    if isinstance(image, ArrayImage):
        idx = [image.channel_names.index(n) for n in names]
        return ArrayImage(image.data[idx], list(names))
    if isinstance(image, StackedImage):
        return StackedImage([image.parts[image.channel_names.index(n)] for n in names], list(names))
    raise InputError(path, f"cannot select channels of a {type(image).__name__}")


def open_labels(path: str | Path) -> LabelSource:
    """Integer label mask (TIFF, ``.npy`` or PNG), 0 = background; float masks must hold whole numbers."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "label mask file does not exist")
    name = path.name.lower()
    if name.endswith(TIFF_SUFFIXES):
        return TiffLabels(path)
    if name.endswith(".npy"):
        try:
            arr = np.load(path, mmap_mode="r")
        except Exception as exc:
            raise InputError(path, f"cannot read .npy mask ({type(exc).__name__}: {exc})") from None
    elif name.endswith(".png"):
        arr = _pil_array(path)
    else:
        raise InputError(path, "unsupported label mask format (use TIFF, .npy or PNG)")
    if arr.ndim != 2:
        raise InputError(path, f"label mask must be one (H, W) plane, got shape {arr.shape} (a channel axis?)")
    if arr.dtype.kind == "f":
        from madcell.io.tiff import float_labels

        arr = float_labels(np.asarray(arr), path).astype(np.int32)
    elif arr.dtype.kind not in "iub":
        raise InputError(path, f"label mask has non-numeric dtype {arr.dtype}")
    return ArrayLabels(arr)


class StackedImage:
    """Several single-channel sources of equal (H, W) read as one (C, H, W) image."""

    def __init__(self, parts: list[ImageSource], channel_names: list[str]):
        shapes = {p.shape[1:] for p in parts}
        if len(shapes) != 1 or any(p.shape[0] != 1 for p in parts):
            raise ValueError(f"stacked parts must be single-channel planes of one size, got {[p.shape for p in parts]}")
        self.parts = list(parts)
        self.channel_names = list(channel_names)
        self.shape = (len(parts),) + parts[0].shape[1:]
        self.dtype = np.result_type(*[p.dtype for p in parts])

    def read(self, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
        return np.concatenate([p.read(y0, y1, x0, x1).astype(self.dtype, copy=False) for p in self.parts])
