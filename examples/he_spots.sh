#!/usr/bin/env bash
# H&E + spot transcriptomics from a folder to a report with one command (`madcell run`), on CPU: the cells are
# segmented from the H&E, embedded by MAD and two baselines, scored per spot, and spot niches are distilled
# into an image-only cell student.
#
#   source .venv/bin/activate            # after `make test` or `make demo` created it
#   examples/he_spots.sh SPOTS_FOLDER [OUT] [SECONDS] [IMAGE]
#
# SPOTS_FOLDER: legacy ST in the her2st layout (e.g. ../shared/data/her2st_b4: image found in the folder),
# Space Ranger outs or a HEST .h5ad (then IMAGE, the full-resolution H&E, is needed). SECONDS: pretraining
# time budget (default 420). Without arguments it makes a synthetic H&E tissue with a Visium grid first.
# Run it again with the same arguments to resume after an interruption: every finished step is cached.
set -euo pipefail
OUT=${2:-he_spots_example}
SECONDS_BUDGET=${3:-420}
if [ $# -ge 1 ]; then
  DATA=$1
  IMAGE_OPT=()
  if [ $# -ge 4 ]; then IMAGE_OPT=(--option "image=$4"); fi
else
  madcell synth --out "$OUT.tissue" --cells 3000 --seed 0 --modality he --spots visium
  DATA="$OUT.tissue/spots_visium"
  IMAGE_OPT=(--option "image=$OUT.tissue/image.ome.tif")
fi
madcell run "$DATA" --out "$OUT" --config cpu-tiny --time-budget "$SECONDS_BUDGET" "${IMAGE_OPT[@]}"
echo "report: $OUT/report/report.md"
