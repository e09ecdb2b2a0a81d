"""benchmarks/prepare_real.py times `prepare` on a real section (here a 100 µm square of the pancreas crop)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / ".." / "shared" / "data" / "xenium_pancreas_crop"


def test_one_row_per_checkout_and_case():
    if not DATA.is_dir():
        pytest.skip(f"real test data {DATA} is not present on this machine")
    res = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "prepare_real.py"), str(DATA),
                          "--case", "cpu-tiny,lazy,400:400:500:500"], capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    rows = [json.loads(line) for line in res.stdout.splitlines() if line.startswith("{")]
    assert len(rows) == 1
    row = rows[0]
    assert row["src"] == str(ROOT / "src") and row["views"] == "lazy" and row["region_um"] == "400:400:500:500"
    assert 20 < row["cells"] < 1079  # a part of the 300-600 µm square's 1,079 cells
    assert row["wall_s"] > 0 and row["cpu_s"] > 0 and 0.1 < row["rss_gib"] < 8 and 0 < row["store_mb"] < 50
    table = [line for line in res.stdout.splitlines() if line.startswith("| ")]
    assert len(table) == 2 and f"| {row['cells']:,} |" in table[1]
