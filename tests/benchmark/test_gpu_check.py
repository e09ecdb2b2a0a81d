"""benchmarks/gpu_check.py runs end to end on CPU (--cpu-smoke) and prints its one JSON line."""

import json
import os
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


def test_gpu_check_cpu_smoke(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    res = subprocess.run([sys.executable, "gpu_check.py", "--out", str(tmp_path), "--cpu-smoke", "--run-seconds", "8"],
                         cwd=BENCH, env=env, capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    out = json.loads(res.stdout.strip().splitlines()[-1])
    assert out["cpu_smoke"] and out["step"][0]["cells_per_s"] > 0 and out["embed"]["cells_per_s"] > 0
    assert out["mad_run"]["finished"] and out["mad_run"]["no_nan"] and out["mad_run"]["steps"] >= 1
    assert [r["source"] for r in out["loader"]] == ["materialised", "lazy", "lazy", "lazy"]
    assert all(r["cells_per_s"] > 0 for r in out["loader"])
    assert [r["micro_level"] for r in out["loader"]] == [None, True, False, False]
    assert [r["cut_on"] for r in out["loader"]] == [None, None, None, "cpu"]  # the batched device cut, here on the CPU
    assert json.loads((tmp_path / "gpu_check.json").read_text()) == out
