"""Write a 10x ``matrix/`` HDF5 file (``filtered_feature_bc_matrix.h5``), the layout
:func:`madcell.io.expression.read_10x_h5` reads.

``matrix/`` holds ``barcodes``, ``shape`` = (n_features, n_barcodes), the features x barcodes matrix in
CSC (``data``, ``indices``, ``indptr``: one column per barcode) and ``features/`` (``id``, ``name``,
``feature_type``, ``genome``, ``_all_tag_keys``), as Cell Ranger / Space Ranger write it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.sparse as sp

from madcell.utils.atomic import atomic_path


def _bytes(values) -> np.ndarray:
    values = [str(v).encode() for v in values]
    width = max((len(v) for v in values), default=1)
    return np.array(values, dtype=f"S{max(width, 1)}")


def write_10x_h5(path: str | Path, X, barcodes, genes, gene_ids=None, feature_type: str = "Gene Expression",
                 genome: str = "unknown") -> Path:
    """Write ``X`` (barcodes x genes counts, dense or sparse) to ``path`` atomically; returns ``path``."""
    import h5py

    X = sp.csr_matrix(X)
    if X.shape != (len(barcodes), len(genes)):
        raise ValueError(f"X has shape {X.shape}, expected ({len(barcodes)}, {len(genes)})")
    X.sum_duplicates()
    X.sort_indices()
    data = X.data
    if np.allclose(data, np.round(data)):
        data = np.round(data).astype(np.int32)
    path = Path(path)
    with atomic_path(path) as tmp:
        with h5py.File(tmp, "w") as h5:
            m = h5.create_group("matrix")
            m.create_dataset("barcodes", data=_bytes(barcodes))
            m.create_dataset("data", data=data, compression="gzip")
            m.create_dataset("indices", data=X.indices.astype(np.int64), compression="gzip")
            m.create_dataset("indptr", data=X.indptr.astype(np.int64))
            m.create_dataset("shape", data=np.array([len(genes), len(barcodes)], dtype=np.int32))
            f = m.create_group("features")
            f.create_dataset("name", data=_bytes(genes))
            f.create_dataset("id", data=_bytes(genes if gene_ids is None else gene_ids))
            f.create_dataset("feature_type", data=_bytes([feature_type] * len(genes)))
            f.create_dataset("genome", data=_bytes([genome] * len(genes)))
            f.create_dataset("_all_tag_keys", data=np.array([b"genome"]))
    return path
