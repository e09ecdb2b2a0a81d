"""`torchrun -m madcell.cli prepare MANIFEST` (gloo on CPU): the ranks share the work units, rank 0 writes
one store, byte-for-byte the views of a single-process run."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

from madcell.data.store import ViewStore
from madcell.synthetic import make_tissue


@pytest.mark.parametrize("views", ["materialised", "lazy"])
def test_two_ranks_write_the_store_one_process_writes(tmp_path, views):
    for k, seed in enumerate((1, 2)):
        make_tissue(tmp_path / f"t{k}", 120, seed)
    (tmp_path / "m.yaml").write_text("slides:\n  - path: t0\n    slide_id: a\n  - path: t1\n    slide_id: b\n")
    sets = ["--set", "prepare.morph_size=28", "--set", "prepare.micro_size=56", "--set", "prepare.tile_size=256",
            "--set", f"prepare.views={views}", "--no-progress"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    one = subprocess.run([sys.executable, "-m", "madcell.cli", "prepare", str(tmp_path / "m.yaml"), "--out",
                          str(tmp_path / "one.h5"), *sets], env=env, capture_output=True, text=True, timeout=300)
    assert one.returncode == 0, one.stderr[-3000:]
    two = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m",
                          "madcell.cli", "prepare", str(tmp_path / "m.yaml"), "--out", str(tmp_path / "two.h5"), *sets],
                         env=env, capture_output=True, text=True, timeout=300)
    assert two.returncode == 0, two.stderr[-3000:]
    assert (two.stdout + two.stderr).count("views 28 / 56 px") == 1  # rank 0 reports
    a, b = ViewStore(tmp_path / "one.h5"), ViewStore(tmp_path / "two.h5")
    assert list(a.cell_ids) == list(b.cell_ids) and len(a) == 240
    for read in ("read_morph", "read_micro"):
        assert np.array_equal(getattr(a, read)(slice(None), raw=True), getattr(b, read)(slice(None), raw=True))
    assert a.obs.equals(b.obs)
    assert a.expression().X.sum() == b.expression().X.sum()
    assert not (tmp_path / "two.h5.parts").exists()
