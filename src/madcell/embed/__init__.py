"""Encoders -> the embedding AnnData (see :mod:`madcell.embed.anndata_form`)."""

from madcell.embed.anndata_form import embedding_to_anndata, write_h5ad

__all__ = ["embedding_to_anndata", "write_h5ad"]
