"""Readers: every supported input (generic folder, Xenium, CosMx, MERSCOPE, YAML manifest) -> SlideData.

``read_input(path, format="auto", options=None) -> list[SlideData]`` is the one entry point;
``detect_format(path)`` tells which reader a folder needs. See :mod:`madcell.io.options` for the
options every reader shares and each reader's module for its own.
"""

from madcell.io.base import ArrayImage, ArrayLabels, ImageSource, LabelSource, SlideData, read_window
from madcell.io.read import READERS, detect_format, read_input

__all__ = [
    "ArrayImage", "ArrayLabels", "ImageSource", "LabelSource", "SlideData", "read_window",
    "READERS", "detect_format", "read_input",
]
