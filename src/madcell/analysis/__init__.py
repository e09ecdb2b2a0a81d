"""Downstream analysis of embedding AnnData with scanpy (AnnData in -> AnnData out): UMAP, graph
clustering, diffusion pseudotime, differential expression and gene-set over-representation."""

from madcell.analysis.embedding import cluster, neighbors, pseudotime, umap
from madcell.analysis.expression import differential_expression, enrichment

__all__ = ["cluster", "differential_expression", "enrichment", "neighbors", "pseudotime", "umap"]
