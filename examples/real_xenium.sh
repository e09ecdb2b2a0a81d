#!/usr/bin/env bash
# A real 10x Xenium section from a folder to a report with one command (`madcell run`), on CPU.
#
#   source .venv/bin/activate            # after `make test` or `make demo` created it
#   examples/real_xenium.sh DATA_FOLDER [OUT] [STEPS]
#
# DATA_FOLDER: Xenium outs (cells.parquet, cell_boundaries.parquet, cell_feature_matrix.h5,
# morphology*.ome.tif; Xenium Ranger's analysis/clustering/*/clusters.csv are picked up as labels),
# e.g. ../shared/data/xenium_pancreas_crop beside this repository. STEPS: optimiser steps of the
# pretraining (default 1000; the preset refuses fewer than 50, which would export an untrained model).
# Run it again with the same arguments to resume after an interruption: every finished step is cached.
set -euo pipefail
if [ $# -lt 1 ]; then
  echo "usage: $0 DATA_FOLDER [OUT] [STEPS]" >&2
  exit 2
fi
DATA=$1
OUT=${2:-xenium_example}
STEPS=${3:-1000}
madcell run "$DATA" --out "$OUT" --config cpu-tiny --steps "$STEPS"
madcell niche "$OUT/embedding.h5ad" --out "$OUT/niche" --cell-type-col xenium_graphclust --k-niches 6
echo "report: $OUT/report/report.md; niches: $OUT/niche/niche.md"
