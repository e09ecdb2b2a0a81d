"""``madcell benchmark``: every configured method on the same data, splits, decoders and CIs."""

from madcell.benchmark.hest import hest_gene_prediction

__all__ = ["hest_gene_prediction"]
