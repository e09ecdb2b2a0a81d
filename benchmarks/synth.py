"""Benchmark `madcell.synthetic.make_tissue`: wall time and peak resident memory.

    python benchmarks/synth.py --cells 200000 --out /tmp/synth_bench [--modality he]

Peak RSS is ``resource.getrusage(...).ru_maxrss`` of this process (the generator runs in-process)
and of the largest render worker (``--workers N``). Prints one Markdown table row, to paste into benchmarks/results/synth.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import shutil
import time
from datetime import date
from pathlib import Path

from madcell.synthetic import make_tissue


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cells", type=int, default=200_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--modality", default="fluorescence")
    ap.add_argument("--difficulty", default="easy")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--keep", action="store_true", help="keep the output folder")
    args = ap.parse_args()
    t0 = time.perf_counter()
    out = make_tissue(args.out, args.cells, args.seed, modality=args.modality, difficulty=args.difficulty,
                      workers=args.workers)
    wall = time.perf_counter() - t0
    peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux
    child_gib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20  # largest worker
    size_gib = sum(f.stat().st_size for f in out.iterdir()) / 2**30
    import json

    meta = json.loads((out / "synth.json").read_text())
    print("| date | machine | workers | cells | modality | image (px) | wall (s) | peak RSS main / worker (GiB) | output (GiB) |")
    print("|---|---|---|---|---|---|---|---|---|")
    print(f"| {date.today()} | {platform.machine()}, {os.cpu_count()} cores | {args.workers} | {args.cells} | {args.modality} | "
          f"{meta['height_px']} x {meta['width_px']} | {wall:.0f} | {peak_gib:.2f} / {child_gib:.2f} | {size_gib:.2f} |")
    if not args.keep:
        shutil.rmtree(out)


if __name__ == "__main__":
    main()
