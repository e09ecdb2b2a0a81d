"""Exports of madcell's results into other ecosystems' formats (optional dependencies).

``export_spatialdata(adata, out=... | into=...)``: the embedding table onto the cells of a SpatialData
zarr (``madcell[spatialdata]``), for napari-spatialdata and scverse pipelines.
"""

from madcell.export.spatialdata import export_spatialdata

__all__ = ["export_spatialdata"]
