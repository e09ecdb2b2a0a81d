"""`prepare` on a real section: wall and CPU time, peak RSS and store size, for one or more checkouts
side by side (e.g. a `git worktree` of an older commit next to this one).

    python benchmarks/prepare_real.py ../shared/data/xenium_pancreas_crop --src /tmp/old/src src \
        --case default,lazy,300:300:600:600 --case cpu-tiny,lazy,- --case default,materialised,-

A case is ``CONFIG,VIEWS,REGION``: a preset (``default`` = no preset), ``lazy`` or ``materialised`` and the
reader option ``region_um`` as ``x0:y0:x1:y1`` µm (``-``: the whole section). Every case runs once per
``--src`` (the ``src`` folder whose ``madcell`` is imported), in a fresh subprocess (``ru_maxrss`` is that
run's own), the checkouts alternating within a case, ``--rounds`` times. ``--workers`` processes (default 1). Prints one JSON row per run and
a Markdown table at the end. The store is deleted after each run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

CHILD = r"""
import json, os, resource, sys, time
from madcell.views import prepare
data, cfg, views, region, out, workers = sys.argv[1:7]
t, c = time.perf_counter(), time.process_time()
prepare(data, out, config=None if cfg == "default" else cfg, overrides=["prepare.views=" + views],
        reader_options={} if region == "-" else {"region_um": [float(v) for v in region.split(":")]}, progress=False,
        workers=int(workers))
import h5py
with h5py.File(out, "r") as f:
    n = int(f["cell_ids"].shape[0])
cpu = time.process_time() - c + sum(getattr(resource.getrusage(resource.RUSAGE_CHILDREN), k) for k in ("ru_utime", "ru_stime"))
print(json.dumps({"cells": n, "wall_s": round(time.perf_counter() - t, 1), "cpu_s": round(cpu, 1),
                  "rss_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
                  "store_mb": round(os.path.getsize(out) / 1e6, 1)}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("data", type=Path)
    ap.add_argument("--src", nargs="+", default=[str(Path(__file__).resolve().parents[1] / "src")])
    ap.add_argument("--case", action="append", default=[], help="CONFIG,VIEWS,REGION (repeatable)")
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--rounds", type=int, default=1)
    args = ap.parse_args()
    cases = [c.split(",") for c in (args.case or ["default,lazy,-"])]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for cfg, views, region in cases * args.rounds:
            for src in args.src:
                out = Path(tmp) / "store.h5"
                r = subprocess.run([sys.executable, "-c", CHILD, str(args.data), cfg, views, region, str(out),
                                    str(args.workers)],
                                   capture_output=True, text=True, env=dict(os.environ, PYTHONPATH=src))
                if r.returncode:
                    sys.exit(f"{src} {cfg} {views} {region}: failed\n{r.stderr[-3000:]}")
                row = dict(src=src, config=cfg, views=views, region_um=region, workers=args.workers,
                           **json.loads(r.stdout.splitlines()[-1]))
                print(json.dumps(row), flush=True)
                rows.append(row)
                out.unlink(missing_ok=True)
    print("\n| checkout | config | views | region (µm) | cells | wall (s) | cells per CPU-s | peak RSS (GiB) | store (MB) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['src']} | {r['config']} | {r['views']} | {r['region_um']} | {r['cells']:,} | {r['wall_s']} | "
              f"{r['cells'] / max(r['cpu_s'], 1e-9):,.0f} | {r['rss_gib']} | {r['store_mb']} |")


if __name__ == "__main__":
    main()
