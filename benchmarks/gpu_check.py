"""One-shot GPU check: one JSON line with the numbers a GPU session should record.

    python benchmarks/gpu_check.py --out /tmp/gpu_check            # on one H100/H200, <= ~8 minutes
    python benchmarks/gpu_check.py --out /tmp/gpu_smoke --cpu-smoke  # the same path on CPU, tiny sizes

1. ``step``: one full MAD training step (multi-crop, teacher, student fwd+bwd, AdamW, EMA) of the paper
   preset (ViT-L/14, 70/224-px views, 2+8 crops, bf16, SDPA attention), without and with
   ``torch.compile``: s/step, cells/s, FLOPs/step and MFU (:mod:`pretrain`'s ``bench``);
2. ``embed``: teacher forward of both views (ViT-L) on random views, cells/s;
3. ``loader``: batches read through the training loader from the materialised store and from a lazy
   one (``prepare --views lazy``, micro views cropped from its stored micro level) of the same tissue,
   cells/s each, and from a lazy one without the micro level (``prepare.lazy_micro_level=false``),
   its microenvironment views resized in the loader workers and batched on the device
   (``train.view_cut=device``);
4. ``mad_run``: ``madcell pretrain`` for ``--run-seconds`` (default 120) on a synthetic store (vit-s
   on GPU, cpu-tiny with ``--cpu-smoke``): finished, no NaN, and whether the loss fell (mean of the
   last fifth of the logged losses below the first fifth's).

With ``--cpu-smoke`` every part runs at tiny sizes on the CPU, so the script itself is tested
(``tests/benchmark/test_gpu_check.py``) on machines without a GPU.
"""

from __future__ import annotations

import argparse
import csv
import functools
import json
import math
import platform
import time
from pathlib import Path

import numpy as np
import torch

from pretrain import bench


def embed_rate(preset: str, batch: int, steps: int, device: torch.device) -> dict:
    from madcell.config import load_config
    from madcell.models import Encoder
    from madcell.utils.device import autocast

    cfg = load_config(preset)
    enc = Encoder.untrained(cfg, 4, [f"c{i}" for i in range(4)]).to(device)
    m, u = enc.morph_size, enc.micro_size
    morph = torch.randint(0, 256, (batch, 4, m, m), dtype=torch.uint8, device=device)
    micro = torch.randint(0, 256, (batch, 4, u, u), dtype=torch.uint8, device=device)
    times = []
    for i in range(steps + 1):
        t = time.perf_counter()
        with autocast(device):
            enc.encode(morph, micro)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        if i:
            times.append(time.perf_counter() - t)
    return {"preset": preset, "batch": batch, "cells_per_s": batch / float(np.median(times))}


def loader_rate(store: Path, batch: int, n_batches: int, workers: int, cut_on=None) -> dict:
    """Cells/s of the training loader; ``cut_on``: a device on which a lazy store's micro views are cut
    (``train.view_cut=device``), the views reaching that device as training gets them."""
    import torch

    from madcell.data import open_views
    from madcell.train.data import batch_loader, batch_views

    vs = open_views(store)
    rng = np.random.default_rng(0)
    batches = [np.sort(rng.choice(len(vs), size=min(batch, len(vs)), replace=False)) for _ in range(n_batches)]
    t, n = time.perf_counter(), 0
    for b in batch_loader(vs, batches, workers, device_cut=cut_on is not None):
        n += len(b["index"])
        if cut_on is not None:
            batch_views(b, cut_on)
    if cut_on is not None and cut_on.type == "cuda":
        torch.cuda.synchronize(cut_on)
    lazy = vs.params.get("views") == "lazy"
    return {"source": vs.params.get("views", "materialised"), "micro_level": not vs.resizes_micro if lazy else None,
            "batch": batch, "workers": workers, "cut_on": None if cut_on is None else str(cut_on),
            "cells_per_s": n / (time.perf_counter() - t)}


def mad_run(work: Path, preset: str, cells: int, seconds: float) -> dict:
    from madcell.synthetic import make_tissue
    from madcell.train import pretrain
    from madcell.views import prepare

    tissue, store = work / "tissue", work / "store.h5"
    if not store.exists():
        make_tissue(tissue, n_cells=cells, seed=0)
        prepare(tissue, store, config=preset, progress=False)
    from madcell.config import load_config

    cfg = load_config(preset, {"train": {"time_budget_s": float(seconds), "epochs": 10**6, "log_every": 5,
                                         "min_steps": 1}})
    run = work / f"run_{int(time.time())}"
    summary = pretrain(store, cfg, run, progress=False)
    with open(run / "metrics.csv") as fh:
        loss = [float(r["value"]) for r in csv.DictReader(fh) if r["name"] == "train/loss"]
    k = max(1, len(loss) // 5)
    return {"preset": preset, "steps": summary["steps"], "finished": bool(summary["finished"]),
            "wall_s": round(summary["wall_s"], 1), "no_nan": all(math.isfinite(v) for v in loss),
            "loss_first": float(np.mean(loss[:k])) if loss else None, "loss_last": float(np.mean(loss[-k:])) if loss else None,
            "loss_fell": bool(loss) and float(np.mean(loss[-k:])) < float(np.mean(loss[:k]))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--cpu-smoke", action="store_true", help="tiny sizes on CPU: checks the script, not the GPU")
    ap.add_argument("--run-seconds", type=float, default=None)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    device = torch.device("cuda" if torch.cuda.is_available() and not args.cpu_smoke else "cpu")
    smoke = args.cpu_smoke or device.type == "cpu"
    t0 = time.perf_counter()
    res: dict = {"device": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu",
                 "torch": torch.__version__, "cpu_smoke": smoke}
    step_preset, step_batch = ("cpu-tiny", 8) if smoke else ("paper-vitl14", 32)
    res["step"] = []
    for comp in (False,) if smoke else (False, True):
        try:
            res["step"].append(bench(step_preset, step_batch, 2 if smoke else 10, 1, 4, device, compile=comp))
        except Exception as exc:  # noqa: BLE001 - one failing variant (OOM, compile) must not hide the rest
            res["step"].append({"preset": step_preset, "compile": comp, "error": f"{type(exc).__name__}: {exc}"[:300]})
    res["embed"] = embed_rate("cpu-tiny" if smoke else "paper-vitl14", 16 if smoke else 256, 2 if smoke else 10, device)
    run = mad_run(args.out, "cpu-tiny" if smoke else "vit-s", 300 if smoke else 3000,
                  args.run_seconds or (25.0 if smoke else 120.0))
    res["mad_run"] = run
    lazy, resized = args.out / "store_lazy.h5", args.out / "store_lazy_resized.h5"
    for path, level in ((lazy, "true"), (resized, "false")):
        if not path.exists():
            from madcell.views import prepare

            prepare(args.out / "tissue", path, config="cpu-tiny" if smoke else "vit-s", progress=False,
                    overrides=["prepare.views=lazy", f"prepare.lazy_micro_level={level}"])
    rate = functools.partial(loader_rate, batch=32 if smoke else 256, n_batches=5 if smoke else 40,
                             workers=0 if smoke else 4)
    res["loader"] = [rate(args.out / "store.h5"), rate(lazy), rate(resized), rate(resized, cut_on=device)]
    res["total_s"] = round(time.perf_counter() - t0, 1)
    line = json.dumps(res, default=float)
    (args.out / "gpu_check.json").write_text(line + "\n")
    print(line, flush=True)


if __name__ == "__main__":
    main()
