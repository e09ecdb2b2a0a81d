"""``madcell benchmark``: every configured method on the same data, splits, decoders and CIs.

``run_benchmark(config, out)`` runs a benchmark config (``bench-synthetic``, ``bench-paper`` or a YAML
path, see :mod:`.config`) with content-keyed caching (:mod:`.cache`); :func:`hest_gene_prediction` is
the HEST-style ridge protocol for gene prediction.
"""

from madcell.benchmark.config import load_bench_config, training_config
from madcell.benchmark.hest import hest_gene_prediction
from madcell.benchmark.runner import run_benchmark

__all__ = ["hest_gene_prediction", "load_bench_config", "run_benchmark", "training_config"]
