"""Benchmark MAD pretraining throughput (cells/s) per preset and, on a GPU, model FLOP utilisation.

    python benchmarks/pretrain.py                                   # every preset, sizes for this machine
    python benchmarks/pretrain.py --preset cpu-tiny --steps 20
    python benchmarks/pretrain.py --preset paper-vitl14 --batch 2 --steps 2

One full training step (multi-crop augmentation, teacher forward, student forward + backward, AdamW,
EMA update) is timed on random uint8 views of the preset's sizes, after ``--warmup`` untimed steps;
cells/s = batch / median seconds per step (data loading from the store is not included). On CUDA
the FLOPs of one step are counted with ``torch.utils.flop_counter.FlopCounterMode`` and
MFU = FLOPs/step x steps/s / the device's dense bf16 peak. Appends a Markdown table to ``--md``.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time
from datetime import date
from pathlib import Path

import torch

from madcell.config import load_config
from madcell.train import StandaloneStep

from protocol import append_results

# dense bf16 tensor-core peaks (FLOP/s), from the vendors' data sheets
BF16_PEAK = {"H100": 989e12, "H200": 989e12, "A100": 312e12, "L40S": 362e12, "A10": 125e12}
# CPU defaults: a few steps at a small batch for the big presets (full batch for cpu-tiny)
CPU_BATCH = {"cpu-tiny": None, "vit-s": 4, "paper-vitl14": 1}


def peak_flops(device: torch.device) -> float | None:
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((v for k, v in BF16_PEAK.items() if k in name), None)


def bench(preset: str, batch: int | None, steps: int, warmup: int, channels: int, device: torch.device,
          compile: bool = False) -> dict:
    over = {"train": {"batch_size": batch}} if batch else {}
    cfg = load_config(preset, over)
    if device.type == "cpu" and cfg["train"]["precision"] == "bf16":
        cfg["train"]["precision"] = "fp32"  # CPU bf16 autocast is slower than fp32 on most CPUs
    b = int(cfg["train"]["batch_size"])
    sizes = {"morph": int(cfg["augment"]["morph_size"] or cfg["prepare"]["morph_size"]),
             "micro": int(cfg["augment"]["micro_size"] or cfg["prepare"]["micro_size"])}
    step = StandaloneStep(cfg, channels, sizes, device, compile=compile, total_iters=warmup + steps + 1)
    views = {v: torch.randint(0, 256, (b, channels, s, s), dtype=torch.uint8, device=device).float() / 255
             for v, s in sizes.items()}
    n_params = step.n_params
    times = []
    for i in range(warmup + steps):
        t = time.perf_counter()
        step(views, i)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        if i >= warmup:
            times.append(time.perf_counter() - t)
    sec = statistics.median(times)
    row = {"preset": preset, "batch": b, "params_M": n_params / 1e6, "sizes": f"{sizes['morph']}/{sizes['micro']}",
           "crops": f"{cfg['augment']['n_global']}+{cfg['augment']['n_local']}", "sec_per_step": sec,
           "cells_per_s": b / sec, "steps": steps, "precision": cfg["train"]["precision"], "tflops_step": None,
           "mfu": None, "compile": compile}
    if device.type == "cuda":
        from torch.utils.flop_counter import FlopCounterMode

        with FlopCounterMode(display=False) as fc:
            step(views, warmup + steps)
        flops = fc.get_total_flops()
        row["tflops_step"] = flops / 1e12
        peak = peak_flops(device)
        row["mfu"] = flops / sec / peak if peak else None
        row["peak_mem_GiB"] = torch.cuda.max_memory_allocated(device) / 2**30
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", nargs="*", default=["cpu-tiny", "vit-s", "paper-vitl14"])
    ap.add_argument("--batch", type=int, default=None, help="per-process batch (default: preset's; small on CPU)")
    ap.add_argument("--steps", type=int, default=None, help="timed steps (default: 10 for cpu-tiny / GPU, else 2)")
    ap.add_argument("--warmup", type=int, default=1)
    ap.add_argument("--channels", type=int, default=4)
    ap.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    ap.add_argument("--md", type=Path, default=Path(__file__).with_name("results") / "pretrain.md")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    machine = torch.cuda.get_device_name(device) if device.type == "cuda" else \
        f"{platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads"
    rows = []
    for p in args.preset:
        batch = args.batch if args.batch else (CPU_BATCH.get(p) if device.type == "cpu" else None)
        steps = args.steps or (10 if device.type == "cuda" or p == "cpu-tiny" else 2)
        try:
            r = bench(p, batch, steps, args.warmup, args.channels, device)
        except torch.OutOfMemoryError as exc:
            r = {"preset": p, "batch": batch, "error": f"out of memory ({exc.__class__.__name__})"}
        rows.append(r)
        print(r, flush=True)
    lines = [f"\n### {date.today()} — {machine} (torch {torch.__version__})\n",
             "| preset | views | crops | batch | params (M) | precision | s/step | cells/s | TFLOP/step | MFU |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['preset']} | | | {r['batch']} | | | {r['error']} | | | |")
            continue
        tf = f"{r['tflops_step']:.2f}" if r["tflops_step"] else "–"
        mfu = f"{100 * r['mfu']:.1f}%" if r["mfu"] else "–"
        lines.append(f"| {r['preset']} | {r['sizes']} | {r['crops']} | {r['batch']} | {r['params_M']:.1f} | "
                     f"{r['precision']} | {r['sec_per_step']:.3f} | {r['cells_per_s']:.1f} | {tf} | {mfu} |")
    append_results(args.md, "\n".join(lines))


if __name__ == "__main__":
    main()
