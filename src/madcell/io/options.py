"""Reader options and the µm -> pixel mapping they define.

Options reach a reader from ``read_input(..., options=)`` or from a manifest entry. Unknown keys are
errors (a typo must not be silently ignored). Shared options:

``pixel_size_um``  µm per image pixel; overrides what the file metadata says.
``origin_um``      (x, y) in µm of the **centre of the top-left pixel** (default (0, 0)), so that
                   ``x_px = (x_um - origin_x) / pixel_size_um`` and pixel (row r, column c) is
                   centred on (x_px=c, y_px=r).
``channels``       list of channel names to keep.
``keep_transcripts`` attach the transcript table (converted to pixels) to the SlideData.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from madcell.errors import InputError

COMMON = {"pixel_size_um", "origin_um", "channels", "keep_transcripts", "slide_id", "format", "region_um"}


def check_options(options: dict | None, allowed: set[str], path: str | Path, fmt: str) -> dict:
    options = dict(options or {})
    unknown = sorted(set(options) - allowed - COMMON)
    if unknown:
        raise InputError(path, f"unknown option(s) {unknown} for format '{fmt}' "
                         f"(allowed: {sorted(allowed | COMMON - {'format'})})")
    if options.get("pixel_size_um") is not None:
        try:
            options["pixel_size_um"] = float(options["pixel_size_um"])
        except (TypeError, ValueError):
            raise InputError(path, f"option pixel_size_um must be a number, got {options['pixel_size_um']!r}") from None
        if not 0.01 <= options["pixel_size_um"] <= 100:
            raise InputError(path, f"option pixel_size_um = {options['pixel_size_um']:g} µm is not a microscope pixel "
                                   "(expected 0.01-100 µm per pixel; Xenium 0.2125, CosMx 0.12-0.18, MERSCOPE 0.108)")
    if options.get("origin_um") is not None:
        origin = options["origin_um"]
        if len(origin) != 2:
            raise InputError(path, f"option origin_um must be (x, y), got {origin!r}")
        options["origin_um"] = (float(origin[0]), float(origin[1]))
    if options.get("channels") is not None:
        ch = options["channels"]
        options["channels"] = [ch] if isinstance(ch, str) else [str(c) for c in ch]
    return options


class MicronToPixel:
    """Affine µm -> pixel map (3x3 matrix acting on (x, y, 1))."""

    def __init__(self, matrix: np.ndarray):
        self.matrix = np.asarray(matrix, dtype=np.float64).reshape(3, 3)

    @classmethod
    def from_scale(cls, pixel_size_um: float, origin_um: tuple[float, float] = (0.0, 0.0)) -> "MicronToPixel":
        s = 1.0 / pixel_size_um
        return cls(np.array([[s, 0, -origin_um[0] * s], [0, s, -origin_um[1] * s], [0, 0, 1]]))

    def __call__(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        m = self.matrix
        x, y = np.asarray(x, float), np.asarray(y, float)
        return m[0, 0] * x + m[0, 1] * y + m[0, 2], m[1, 0] * x + m[1, 1] * y + m[1, 2]

    def to_um(self, x_px: np.ndarray, y_px: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        inv = np.linalg.inv(self.matrix)
        x, y = np.asarray(x_px, float), np.asarray(y_px, float)
        return inv[0, 0] * x + inv[0, 1] * y + inv[0, 2], inv[1, 0] * x + inv[1, 1] * y + inv[1, 2]

    @property
    def pixel_size_um(self) -> float:
        return float(1.0 / np.sqrt(abs(np.linalg.det(self.matrix[:2, :2]))))

    @property
    def origin_um(self) -> tuple[float, float]:
        """µm position of pixel (0, 0)."""
        inv = np.linalg.inv(self.matrix)
        return float(inv[0, 2]), float(inv[1, 2])


def micron_to_pixel(options: dict, path: str | Path, metadata_pixel_size: float | None,
                    what: str = "no pixel size in OME metadata") -> MicronToPixel:
    """The mapping from ``transform`` / ``pixel_size_um`` (+ ``origin_um``) options or metadata."""
    if options.get("transform") is not None:
        try:
            return MicronToPixel(np.asarray(options["transform"], dtype=float))
        except ValueError:
            raise InputError(path, "option transform must be a 3x3 µm -> pixel affine matrix") from None
    size = options.get("pixel_size_um") or metadata_pixel_size
    if size is None:
        raise InputError(path, f"{what}; give pixel_size_um (and origin_um)")
    return MicronToPixel.from_scale(size, options.get("origin_um") or (0.0, 0.0))
