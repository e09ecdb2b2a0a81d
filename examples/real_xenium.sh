#!/usr/bin/env bash
# A real vendor folder through the CLI: the small 10x Xenium set shipped beside this repository
# (../shared/data/xenium_outs_mini). Its OME-TIFF carries no usable pixel size, so it is given here
# (see ../shared/data/README.md). Runs in about a minute on 2 CPU cores.
set -euo pipefail
OUT=${1:-xenium_example}
DATA=$(cd "$(dirname "$0")/.." && pwd)/../shared/data/xenium_outs_mini
madcell prepare "$DATA" --out "$OUT/views.h5" --config cpu-tiny \
  --option pixel_size_um=1.7 --option 'origin_um=[995.5, 998.9]'
madcell pretrain "$OUT/views.h5" --config cpu-tiny --out "$OUT/run" --time-budget 30 --quiet
madcell embed "$OUT/views.h5" --run "$OUT/run" --out "$OUT/emb.h5ad"
madcell niche "$OUT/emb.h5ad" --out "$OUT/niche" --k-niches 4 --student mlp
