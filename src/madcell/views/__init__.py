"""View preparation: slides -> per-cell morphology and microenvironment views in one HDF5 store.

``prepare_slides(slides, out, cfg, workers=1, progress=True)`` works on :class:`~madcell.io.base.SlideData`;
``prepare(input, out, format="auto", config=None, overrides=None, workers=None)`` reads the input with
:func:`madcell.io.read_input` first. ``madcell prepare`` is the command line for the latter.
"""

from madcell.views.pipeline import prepare, prepare_slides

__all__ = ["prepare", "prepare_slides"]
