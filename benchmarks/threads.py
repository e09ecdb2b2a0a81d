"""Training cells/s idle and next to busy processes, before and after madcell's thread settings.

    python benchmarks/threads.py --steps 15 --rounds 2

OpenMP wait policies (``--policies``): ``ACTIVE`` (spin until work comes), ``PASSIVE`` (sleep at once),
``default`` (libgomp's own: spin ``GOMP_SPINCOUNT`` = 300,000 iterations, then sleep; passed as an empty
``OMP_WAIT_POLICY`` so ``import madcell`` leaves it alone), ``spinN`` (libgomp's policy with
``GOMP_SPINCOUNT=N``). Each cell of the table is one ``benchmarks/pretrain.py --preset cpu-tiny`` run (its own
process; cells/s = batch / median step time) in one machine state: idle; one busy background process
(a pure-Python spin loop); two background spin loops at ``nice 19`` (the case the issue measured).
States and policies alternate within each round, so all cells see the same machine. Prints Markdown.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SPIN = "while True: pass"


def policy_env(policy: str) -> dict:
    if policy in ("ACTIVE", "PASSIVE"):
        return {"OMP_WAIT_POLICY": policy}
    if policy == "default":
        return {"OMP_WAIT_POLICY": ""}
    return {"OMP_WAIT_POLICY": "", "GOMP_SPINCOUNT": policy.removeprefix("spin")}


def one(policy: str, steps: int) -> float:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME")}
    env.update(policy_env(policy))
    out = subprocess.run([sys.executable, str(HERE / "pretrain.py"), "--preset", "cpu-tiny", "--steps", str(steps),
                          "--warmup", "3", "--md", os.devnull], env=env, capture_output=True, text=True, check=True)
    row = [line for line in out.stdout.splitlines() if line.startswith("| cpu-tiny")][0]
    return float(row.split("|")[8])


def background(state: str) -> list[subprocess.Popen]:
    if state == "idle":
        return []
    if state == "1 busy":
        return [subprocess.Popen([sys.executable, "-c", SPIN])]
    return [subprocess.Popen(["nice", "-n", "19", sys.executable, "-c", SPIN]) for _ in range(2)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=15)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--policies", nargs="+", default=["ACTIVE", "PASSIVE", "default", "spin30000"])
    ap.add_argument("--states", nargs="+", default=["idle", "1 busy", "2 niced"])
    args = ap.parse_args()
    states, pols = args.states, args.policies
    res: dict = {(s, p): [] for s in states for p in pols}
    for r in range(args.rounds):
        for state in states:
            procs = background(state)
            try:
                time.sleep(1.0)
                for p in (pols if r % 2 == 0 else pols[::-1]):
                    res[(state, p)].append(one(p, args.steps))
            finally:
                for pr in procs:
                    pr.kill()
                    pr.wait()
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} cores, cpu-tiny, "
          f"{args.steps} timed steps, {args.rounds} rounds (cells/s per round)\n")
    print("| machine state | " + " | ".join(pols) + " |")
    print("|---" * (len(pols) + 1) + "|")
    idle = {p: sum(res[(states[0], p)]) / args.rounds for p in pols}
    for state in states:
        cells = []
        for p in pols:
            v = res[(state, p)]
            cells.append(", ".join(f"{x:.1f}" for x in v) + (f" ({100 * sum(v) / len(v) / idle[p]:.0f} %)" if state != states[0] else ""))
        print(f"| {state} | " + " | ".join(cells) + " |")
    print(f"\n(%: mean of the state over the mean of {states[0]} with the same policy)")


if __name__ == "__main__":
    main()
