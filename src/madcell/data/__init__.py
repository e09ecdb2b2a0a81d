"""Views of cells: the ``ViewSource`` contract, the view store (HDF5) and the PyTorch dataset."""

from madcell.data.source import InMemoryViews, ViewSource, open_views
from madcell.data.store import LAYOUT, StoreWriter, ViewStore, create_store, write_reference_layout
from madcell.data.dataset import ViewDataset

__all__ = ["InMemoryViews", "LAYOUT", "StoreWriter", "ViewDataset", "ViewSource", "ViewStore", "create_store",
           "open_views", "write_reference_layout"]
