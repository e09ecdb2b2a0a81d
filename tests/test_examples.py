"""The shell example takes the data folder as an argument (it used to hard-code ../shared/data and
train one step on a 30-s budget)."""

import subprocess
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "real_xenium.sh"


def test_real_xenium_example_takes_the_data_folder_and_a_real_step_count():
    res = subprocess.run(["bash", str(EXAMPLE)], capture_output=True, text=True)
    assert res.returncode == 2 and "usage:" in res.stderr and "DATA_FOLDER" in res.stderr
    text = EXAMPLE.read_text()
    assert "shared/data" not in text.split("set -euo pipefail")[1]  # no built-in path to this checkout's data
    assert "madcell run" in text and "--time-budget" not in text
