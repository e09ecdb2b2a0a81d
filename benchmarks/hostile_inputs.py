"""Hostile inputs through the real CLI: exit code, first line of the message, inputs unchanged, nothing written.

    python benchmarks/hostile_inputs.py --work /tmp/hostile [--md results/hostile_inputs.md]

Builds one small synthetic folder, its store and a tiny trained run (a few seconds), then runs each
case of issue 12's classes as a separate ``madcell`` process and records: the exit code, the first
line of stderr, whether any input file changed (SHA-256 before / after) and whether the output path
exists afterwards. The table is appended to the results file; a case whose outcome is not the one
expected is marked.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
from datetime import datetime
from pathlib import Path

import protocol as P

MADCELL = [sys.executable, "-m", "madcell.cli"]
TINY = ["--set", "model.embed_dim=48", "--set", "model.depth=2", "--set", "model.num_heads=3",
        "--set", "train.batch_size=32", "--set", "train.eval_cells=64", "--set", "train.min_steps=1"]


def sha(paths: list[Path]) -> str:
    h = hashlib.sha256()
    for root in paths:
        for p in sorted([root] if root.is_file() else root.rglob("*")):
            if p.is_file():
                h.update(str(p).encode())
                h.update(p.read_bytes())
    return h.hexdigest()


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.run(MADCELL + args, cwd=cwd, capture_output=True, text=True, env=env, timeout=600)


def setup(work: Path) -> dict:
    work.mkdir(parents=True, exist_ok=True)
    t = work / "tissue"
    if not (work / "store.h5").exists():
        run(["synth", "--out", str(t), "--cells", "300", "--seed", "3"], work).check_returncode()
        run(["prepare", str(t), "--out", str(work / "store.h5"), "--config", "cpu-tiny", "--no-progress"], work).check_returncode()
    if not (work / "run" / "export").exists():
        run(["pretrain", str(work / "store.h5"), "--config", "cpu-tiny", "--out", str(work / "run"), "--max-steps", "4",
             "-q", *TINY], work).check_returncode()
    if not (work / "emb.h5ad").exists():
        run(["embed", str(work / "store.h5"), "--run", str(work / "run"), "--out", str(work / "emb.h5ad")], work).check_returncode()
    return {"tissue": t, "store": work / "store.h5", "run": work / "run", "emb": work / "emb.h5ad"}


def cases(w: Path, a: dict) -> list[tuple[str, list[str], list[Path], Path | None, int]]:
    """(class, argv, inputs that must not change, output that must not appear, expected exit code)."""
    img = next(a["tissue"].glob("image*"))
    bad_h5 = w / "not_a_store.h5"
    bad_h5.write_text("hello")
    corrupt = w / "corrupt_run"
    if not corrupt.exists():
        shutil.copytree(a["run"] / "export", corrupt / "export")
        (corrupt / "export" / "teacher.safetensors").write_bytes(b"\0" * 64)
    file_parent = w / "a_file"
    file_parent.write_text("x")
    s, r, e = str(a["store"]), str(a["run"]), str(a["emb"])
    return [
        ("--out is an input file", ["prepare", str(a["tissue"]), "--out", str(img)], [a["tissue"]], None, 2),
        ("--out is the store", ["embed", s, "--run", r, "--out", s], [a["store"]], None, 2),
        ("--out under a file", ["evaluate", e, "--out", str(file_parent / "ev")], [a["emb"]], file_parent / "ev", 2),
        ("--set wrong type", ["pretrain", s, "--out", str(w / "o1"), "--set", "train.lr=abc"], [a["store"]], w / "o1", 2),
        ("--set out of range", ["pretrain", s, "--out", str(w / "o2"), "--set", "train.batch_size=0"], [a["store"]], w / "o2", 2),
        ("--set int as float", ["prepare", str(a["tissue"]), "--out", str(w / "o3.h5"), "--set", "prepare.k_neighbors=2.7"], [a["tissue"]], w / "o3.h5", 2),
        ("--max-steps 0", ["pretrain", s, "--out", str(w / "o4"), "--max-steps", "0"], [a["store"]], w / "o4", 2),
        ("budget below min_steps", ["pretrain", s, "--out", str(w / "o5"), "--config", "cpu-tiny", "--time-budget", "3"], [a["store"]], w / "o5", 2),
        ("--k-niches 0", ["niche", e, "--out", str(w / "o6"), "--k-niches", "0"], [a["emb"]], w / "o6", 2),
        ("embed --batch-size 0", ["embed", s, "--run", r, "--out", str(w / "o7.h5ad"), "--batch-size", "0"], [a["store"]], w / "o7.h5ad", 2),
        ("embed --chunk-cells -1", ["embed", s, "--run", r, "--out", str(w / "o8.h5ad"), "--chunk-cells", "-1"], [a["store"]], w / "o8.h5ad", 2),
        ("--device cuda without GPU", ["embed", s, "--run", r, "--out", str(w / "o9.h5ad"), "--device", "cuda"], [a["store"]], w / "o9.h5ad", 2),
        ("corrupt safetensors", ["embed", s, "--run", str(corrupt), "--out", str(w / "o10.h5ad")], [a["store"]], w / "o10.h5ad", 2),
        ("not a view store", ["embed", str(bad_h5), "--run", r, "--out", str(w / "o11.h5ad")], [bad_h5], w / "o11.h5ad", 2),
        ("--resume without a run", ["pretrain", s, "--out", str(w / "o12"), "--resume"], [a["store"]], None, 2),
        ("implausible pixel size", ["prepare", str(a["tissue"]), "--out", str(w / "o13.h5"), "--option", "pixel_size_um=1e6"], [a["tissue"]], w / "o13.h5", 2),
        ("evaluate n_folds=1", ["evaluate", e, "--out", str(w / "o14"), "--set", "evaluate.n_folds=1"], [a["emb"]], w / "o14", 2),
        ("unknown label column", ["evaluate", e, "--out", str(w / "o15"), "--label", "nope"], [a["emb"]], w / "o15", 2),
        ("labels file with duplicate ids", ["evaluate", e, "--out", str(w / "o16"), "--labels", str(w / "dup.csv")], [a["emb"]], w / "o16", 2),
        ("run: steps below warm-up", ["run", str(a["tissue"]), "--out", str(w / "o17"), "--steps", "5"], [a["tissue"]], w / "o17", 2),
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--md", type=Path, default=Path(__file__).with_name("results") / "hostile_inputs.md")
    args = ap.parse_args()
    w = args.work.resolve()
    a = setup(w)
    (w / "dup.csv").write_text("cell_id,kind\nc1,a\nc1,b\n")
    rows = []
    for name, argv, inputs, out, want in cases(w, a):
        before = sha(inputs)
        res = run(argv, w)
        lines = [ln for ln in res.stderr.splitlines() if ln.strip() and not ln.startswith(("  warnings.warn", "/"))]
        msg = next((ln for ln in lines if ln.startswith("error:")), lines[-1] if lines else "")
        changed = sha(inputs) != before
        wrote = out is not None and out.exists()
        ok = res.returncode == want and not changed and not wrote and "Traceback" not in res.stderr
        rows.append(f"| {name} | {res.returncode} | {'no' if not changed else '**YES**'} | {'no' if not wrote else '**YES**'} | "
                    f"{'' if ok else '**unexpected** '}{msg[:160].replace('|', '/')} |")
    head = (f"\n### {datetime.now():%Y-%m-%d %H:%M} — {len(rows)} cases through `python -m madcell.cli`\n\n"
            "| case | exit | input changed | output written | first line |\n|---|---|---|---|---|")
    P.append_results(args.md, head + "\n" + "\n".join(rows))


if __name__ == "__main__":
    main()
