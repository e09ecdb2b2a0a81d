"""The view store (HDF5) and the PyTorch dataset that reads it."""

from madcell.data.store import LAYOUT, StoreWriter, ViewStore, create_store, write_reference_layout
from madcell.data.dataset import ViewDataset

__all__ = ["LAYOUT", "StoreWriter", "ViewStore", "ViewDataset", "create_store", "write_reference_layout"]
