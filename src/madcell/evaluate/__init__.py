"""Evaluation of an embedding AnnData: clustering/geometry, probes, cross-view retrieval, gene
decoding, CCA against expression and patch heterogeneity — each number with a bootstrap CI."""

from madcell.evaluate.output import flatten_metrics, read_metrics, write_metrics
from madcell.evaluate.runner import evaluate_anndata

__all__ = ["evaluate_anndata", "flatten_metrics", "read_metrics", "write_metrics"]
