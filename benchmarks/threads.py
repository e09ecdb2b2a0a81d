"""Training cells/s idle and next to busy processes, before and after madcell's thread settings.

    python benchmarks/threads.py --steps 15 --rounds 2

"before" = libgomp's default spin-waiting (``OMP_WAIT_POLICY=ACTIVE``), "after" = madcell's default
(``import madcell`` sets ``OMP_WAIT_POLICY=PASSIVE`` / ``KMP_BLOCKTIME=0`` and caps torch threads at the
CPU affinity). Each cell of the table is one ``benchmarks/pretrain.py --preset cpu-tiny`` run (its own
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


def one(policy: str, steps: int) -> float:
    env = {**os.environ, "OMP_WAIT_POLICY": policy, "KMP_BLOCKTIME": "0" if policy == "PASSIVE" else "200"}
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
    args = ap.parse_args()
    states = ["idle", "1 busy", "2 niced"]
    res: dict = {(s, p): [] for s in states for p in ("ACTIVE", "PASSIVE")}
    for r in range(args.rounds):
        for state in states:
            procs = background(state)
            try:
                time.sleep(1.0)
                for p in (("ACTIVE", "PASSIVE") if r % 2 == 0 else ("PASSIVE", "ACTIVE")):
                    res[(state, p)].append(one(p, args.steps))
            finally:
                for pr in procs:
                    pr.kill()
                    pr.wait()
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {os.cpu_count()} cores, cpu-tiny, "
          f"{args.steps} timed steps, {args.rounds} rounds (cells/s per round)\n")
    print("| machine state | before: ACTIVE (spin) | after: PASSIVE (madcell default) | after, % of idle |")
    print("|---|---|---|---|")
    idle = sum(res[("idle", "PASSIVE")]) / args.rounds
    for state in states:
        a, p = res[(state, "ACTIVE")], res[(state, "PASSIVE")]
        print(f"| {state} | {', '.join(f'{v:.1f}' for v in a)} | {', '.join(f'{v:.1f}' for v in p)} | "
              f"{100 * sum(p) / len(p) / idle:.0f} % |")


if __name__ == "__main__":
    main()
