"""Decoders on frozen embeddings: cell labels (balanced MLP classifier) and gene expression (MLP
regressor), fit, saved and applied to an embedding AnnData."""

from madcell.decode.anndata_decode import (
    apply_decoders, decode_anndata, embedding_of, read_embedding, resolve_genes, save_decoders,
)
from madcell.decode.classifier import ClassifierDecoder, decode_section, fit_classifier
from madcell.decode.regressor import RegressionDecoder, fit_regressor
from madcell.decode.transforms import TRANSFORMS, transform_expression

__all__ = [
    "ClassifierDecoder", "RegressionDecoder", "TRANSFORMS", "apply_decoders", "decode_anndata", "decode_section",
    "embedding_of", "fit_classifier", "read_embedding", "fit_regressor", "resolve_genes", "save_decoders", "transform_expression",
]
