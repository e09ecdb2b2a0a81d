"""Spot-based spatial transcriptomics (Visium / Space Ranger, legacy ST, HEST-style AnnData) with an H&E image.

``read_spots(path, format="auto", **options) -> SpotData`` reads one section: spot centres in
full-resolution image pixels, spot counts, spot labels, and the image scale (µm/px and spot diameter,
from the files when they say it, otherwise derived from the spot lattice; always recorded with how it
was obtained). ``assign_cells_to_spots`` tells which cell centroids lie under which spot.
``write_10x_h5`` writes a count matrix in the 10x HDF5 layout (used by the synthetic spot grid,
:mod:`madcell.synthetic.spots`).
"""

from madcell.spots.assign import SpotAssignment, assign_cells_to_spots, sum_by_spot
from madcell.spots.data import SpotData
from madcell.spots.geometry import PLATFORMS, Platform
from madcell.spots.read import READERS, detect_spot_format, read_spots
from madcell.spots.tenx import write_10x_h5

__all__ = ["SpotData", "read_spots", "detect_spot_format", "READERS", "assign_cells_to_spots", "SpotAssignment",
           "sum_by_spot", "PLATFORMS", "Platform", "write_10x_h5"]
