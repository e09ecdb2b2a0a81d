"""Spot platforms and the scale of a spot image: µm per pixel and spot diameter, from files or the lattice.

Platforms (nominal geometry): Visium spots are 55 µm across on a hexagonal lattice 100 µm centre to
centre (``array_col`` steps 50 µm across, ``array_row`` steps 100·√3/2 µm down); legacy ST spots are
100 µm across on a square lattice 200 µm centre to centre (``x``/``y`` step 200 µm each).

:func:`resolve_scale` decides µm/px and the diameter in this order and records how:

1. option ``pixel_size_um`` -> ``"given"``;
2. ``scalefactors_json.json``: ``microns_per_pixel`` when present, else spot diameter (µm) /
   ``spot_diameter_fullres`` -> ``"from scalefactors"``;
3. otherwise ``"derived from the lattice"``: a least-squares fit of the pixel centres against the array
   coordinates (px per array step, via the determinant, so rotation does not matter) when the file
   has them, else the median nearest-neighbour centre spacing against the pitch. The fit is preferred:
   detected spot centres scatter around the lattice (legacy ST: ~6 % of a step) and the nearest of
   several scattered neighbours is biased short.

The lattice value is computed whenever it can be and kept in ``meta`` as a cross-check.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.spatial import cKDTree

from madcell.errors import InputError


@dataclass(frozen=True)
class Platform:
    name: str
    spot_diameter_um: float
    pitch_um: float
    lattice: str  # "hexagonal" | "square"

    def array_step_um(self, pitch_um: float) -> tuple[float, float]:
        """µm per unit of (array_col, array_row)."""
        if self.lattice == "hexagonal":
            return pitch_um / 2, pitch_um * np.sqrt(3) / 2
        return pitch_um, pitch_um


PLATFORMS = {"visium": Platform("visium", 55.0, 100.0, "hexagonal"), "st": Platform("st", 100.0, 200.0, "square")}


@dataclass
class Scale:
    um_per_px: float
    um_per_px_source: str
    spot_diameter_px: float
    spot_diameter_um: float
    spot_diameter_source: str
    pitch_um: float
    meta: dict = field(default_factory=dict)


def nn_spacing(xy: np.ndarray) -> float:
    """Median distance (px) from each spot centre to its nearest neighbour."""
    d, _ = cKDTree(xy).query(xy, k=2)
    return float(np.median(d[:, 1]))


def lattice_kind(xy: np.ndarray) -> str | None:
    """``hexagonal`` if some spot has >= 5 neighbours within 1.2x the spacing, ``square`` if spots have
    up to 4 and the lattice is large enough to tell (some spot with 4), else None."""
    if len(xy) < 5:
        return None
    r = 1.2 * nn_spacing(xy)
    counts = np.array([len(n) - 1 for n in cKDTree(xy).query_ball_point(xy, r)])
    if counts.max() >= 5:
        return "hexagonal"
    return "square" if counts.max() == 4 else None


def lattice_px_per_um(xy: np.ndarray, array_cr: np.ndarray | None, platform: Platform, pitch_um: float) -> tuple[float, str]:
    """Pixels per µm from the lattice and a one-line account of how."""
    if array_cr is not None and len(np.unique(array_cr[:, 0])) > 1 and len(np.unique(array_cr[:, 1])) > 1:
        A = np.column_stack([array_cr.astype(float), np.ones(len(xy))])
        coef, *_ = np.linalg.lstsq(A, xy, rcond=None)
        det = abs(np.linalg.det(coef[:2]))  # px² per (col unit x row unit)
        if det > 0:
            sc, sr = platform.array_step_um(pitch_um)
            px_per_um = float(np.sqrt(det / (sc * sr)))
            return px_per_um, (f"least-squares fit of pixel centres on array coordinates: {pitch_um * px_per_um:.2f} px "
                               f"per {pitch_um:g} µm pitch ({len(xy)} spots)")
    spacing = nn_spacing(xy)
    how = f"median nearest-neighbour spacing {spacing:.2f} px = {pitch_um:g} µm pitch ({len(xy)} spots)"
    return spacing / pitch_um, how


def resolve_scale(xy: np.ndarray, array_cr: np.ndarray | None, platform: Platform, opts: dict,
                  scalefactors: dict | None, path: str | Path, scale_path: str | Path | None = None) -> Scale:
    """µm/px and spot diameter (module docstring); ``xy`` (n, 2) pixel centres of every lattice spot known."""
    pitch = float(opts.get("pitch_um") or platform.pitch_um)
    diam_um = float(opts.get("spot_diameter_um") or platform.spot_diameter_um)
    sf = scalefactors or {}
    meta: dict = {"pitch_um_source": "given" if opts.get("pitch_um") else f"nominal for {platform.name}",
                  "spot_diameter_um_source": "given" if opts.get("spot_diameter_um") else f"nominal for {platform.name}"}
    lattice = None
    if len(xy) >= 2:
        px_per_um, how = lattice_px_per_um(xy, array_cr, platform, pitch)
        if px_per_um > 0:
            lattice = 1.0 / px_per_um
            meta.update(um_per_px_lattice=lattice, lattice_method=how)
    fullres = sf.get("spot_diameter_fullres")
    if fullres is not None and not float(fullres) > 0:
        raise InputError(scale_path or path, f"spot_diameter_fullres must be positive, got {fullres!r}")
    if opts.get("pixel_size_um"):
        um_px, src = float(opts["pixel_size_um"]), "given"
    elif sf.get("microns_per_pixel"):
        um_px, src = float(sf["microns_per_pixel"]), "from scalefactors"
    elif fullres is not None:
        um_px, src = diam_um / float(fullres), "from scalefactors"
        meta["um_per_px_method"] = f"{diam_um:g} µm spot / spot_diameter_fullres {float(fullres):g} px"
    elif lattice is not None:
        um_px, src = lattice, "derived from the lattice"
    else:
        raise InputError(path, "cannot tell µm per pixel: no scalefactors and fewer than two spots to measure the "
                               "lattice; give pixel_size_um")
    if src != "derived from the lattice" and lattice is not None and abs(lattice / um_px - 1) > 0.1:
        warnings.warn(f"{path}: µm/px {um_px:.4g} ({src}) differs by {abs(lattice / um_px - 1):.0%} from the lattice's "
                      f"{lattice:.4g} ({meta['lattice_method']}); check platform / pitch_um", stacklevel=3)
    if fullres is not None:
        d_px, d_src = float(fullres), "from scalefactors"
    else:
        d_px, d_src = diam_um / um_px, src
    return Scale(um_px, src, d_px, diam_um, d_src, pitch, meta)


def image_size(path: str | Path) -> tuple[int, int]:
    """(height, width) of an image file from its header, without decoding the pixels."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "image file does not exist")
    try:
        if path.name.lower().endswith((".tif", ".tiff")):
            from madcell.io.tiff import TiffImage

            return tuple(int(v) for v in TiffImage(path).shape[1:])
        from PIL import Image

        Image.MAX_IMAGE_PIXELS = None  # as madcell.io.images: whole-slide JPEGs exceed Pillow's bomb limit
        with Image.open(path) as im:
            return int(im.size[1]), int(im.size[0])
    except Exception as exc:
        raise InputError(path, f"cannot read image header ({type(exc).__name__}: {exc})") from None
