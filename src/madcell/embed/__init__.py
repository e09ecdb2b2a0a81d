"""Encoders -> the embedding AnnData (see :mod:`madcell.embed.anndata_form`)."""

from madcell.embed.anndata_form import embedding_to_anndata, write_h5ad
from madcell.embed.encode import embed_store, encode_views

__all__ = ["embed_store", "embedding_to_anndata", "encode_views", "write_h5ad"]
