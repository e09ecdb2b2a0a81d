"""Expression tables (``.h5ad``, 10x HDF5, CSV) aligned to a slide's cell table.

The contract (:class:`~madcell.io.base.SlideData`) is ``expression.obs_names == cells.cell_id`` in
the same order, so every reader ends with :func:`align_expression`. The 10x HDF5 reader is our own
few lines over h5py because vendor files differ from what scanpy expects (Xenium's
``cell_feature_matrix.h5`` may carry float64 ``data``, control features, no ``genome``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from madcell.errors import InputError


def _str(values) -> np.ndarray:
    return np.array([v.decode() if isinstance(v, bytes) else str(v) for v in values], dtype=object)


def read_10x_h5(path: str | Path, feature_types: tuple[str, ...] | None = ("Gene Expression",)):
    """cells x features AnnData from a 10x ``matrix/`` HDF5 file.

    Features whose ``feature_type`` is not in ``feature_types`` (controls, blank codewords) stay out
    of ``X``; their per-cell sum goes to ``obs['control_counts']``. ``None`` keeps every feature.
    """
    import anndata as ad
    import h5py

    path = Path(path)
    try:
        with h5py.File(path, "r") as h5:
            m = h5["matrix"]
            n_feat, n_cells = (int(v) for v in m["shape"][()])
            X = sp.csc_matrix((m["data"][()], m["indices"][()], m["indptr"][()]), shape=(n_feat, n_cells)).T.tocsr()
            barcodes = _str(m["barcodes"][()])
            feat = m["features"]
            names = _str(feat["name"][()])
            ids = _str(feat["id"][()]) if "id" in feat else names
            types = _str(feat["feature_type"][()]) if "feature_type" in feat else np.full(n_feat, "Gene Expression")
    except InputError:
        raise
    except Exception as exc:
        raise InputError(path, f"cannot read 10x HDF5 matrix ({type(exc).__name__}: {exc})") from None
    keep = np.ones(n_feat, bool) if feature_types is None else np.isin(types, feature_types)
    X = X.astype(np.float32)
    obs = pd.DataFrame(index=pd.Index(barcodes, dtype=str))
    if not keep.all():
        obs["control_counts"] = np.asarray(X[:, ~keep].sum(axis=1)).ravel()
    var = pd.DataFrame({"gene_ids": ids[keep], "feature_types": types[keep]}, index=pd.Index(names[keep], dtype=str))
    adata = ad.AnnData(X=X[:, keep], obs=obs, var=var)
    adata.var_names_make_unique()
    return adata


def read_expression(path: str | Path):
    """AnnData (cells x genes) from ``.h5ad``, a 10x ``.h5`` or a CSV (first column = cell id)."""
    import anndata as ad

    path = Path(path)
    if not path.is_file():
        raise InputError(path, "expression file does not exist")
    name = path.name.lower()
    try:
        if name.endswith(".h5ad"):
            return ad.read_h5ad(path)
        if name.endswith((".h5", ".hdf5")):
            return read_10x_h5(path)
        if name.endswith((".csv", ".csv.gz", ".tsv", ".tsv.gz")):
            sep = "\t" if ".tsv" in name else ","
            df = pd.read_csv(path, sep=sep, index_col=0)
            df.index = df.index.astype(str)
            if not all(np.issubdtype(t, np.number) for t in df.dtypes):
                raise InputError(path, "expression CSV must hold numbers only (cells x genes, first column = cell id)")
            return ad.AnnData(X=sp.csr_matrix(df.to_numpy(np.float32)), obs=pd.DataFrame(index=df.index),
                              var=pd.DataFrame(index=df.columns.astype(str)))
    except InputError:
        raise
    except Exception as exc:
        raise InputError(path, f"cannot read expression ({type(exc).__name__}: {exc})") from None
    raise InputError(path, "unsupported expression format (use .h5ad, 10x .h5 or .csv)")


def align_expression(adata, cell_ids: list[str] | pd.Index, path: str | Path):
    """Rows of ``adata`` reordered to ``cell_ids``; InputError if a cell has no expression row."""
    cell_ids = pd.Index(cell_ids, dtype=str)
    obs_names = pd.Index(adata.obs_names, dtype=str)
    if obs_names.has_duplicates:
        raise InputError(path, "expression has duplicate cell ids")
    pos = obs_names.get_indexer(cell_ids)
    if (pos < 0).any():
        missing = list(cell_ids[pos < 0][:5])
        raise InputError(path, f"{int((pos < 0).sum())} cells of the cell table have no expression row "
                         f"(e.g. {missing})")
    out = adata[pos].copy()
    out.obs_names = cell_ids
    return out
