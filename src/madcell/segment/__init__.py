"""Nucleus and cell segmentation for images that come without masks (``madcell segment``).

An H&E image (nuclei from the haematoxylin of a colour deconvolution) or a fluorescence image (a
DAPI-like nuclear channel) -> nucleus labels -> approximate cells by bounded expansion of each
nucleus -> a folder the generic reader takes (``labels.tif`` next to the image), so
``madcell prepare`` can run on data that has none.

Modules:

* :mod:`.stain`: the nuclear signal of a window and its slide-wide statistics;
* :mod:`.skimage_seg`: the default segmenter (threshold, distance transform, markers, watershed);
* :mod:`.adapters`: StarDist / Cellpose with a local model, when installed;
* :mod:`.tiled`: tiles with a halo, one owner tile per object, slide-wide labels on disk;
* :mod:`.pipeline`: :func:`segment`, checks and the output folder;
* :mod:`.metrics`: F1 / precision / recall at an IoU threshold;
* :mod:`.truth`: the true nucleus masks of a synthetic tissue.
"""

from madcell.segment.metrics import Matching, match_labels
from madcell.segment.pipeline import segment

__all__ = ["segment", "match_labels", "Matching"]
