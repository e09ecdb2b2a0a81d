"""Threads that fit the machine: passive OpenMP waiting, affinity-capped torch threads, --threads."""

import os
import subprocess
import sys

import torch
from typer.testing import CliRunner

from madcell.utils.threads import available_cpus, set_threads


def test_import_sets_passive_openmp_before_torch_unless_the_user_chose():
    code = "import os, madcell, torch; print(os.environ['OMP_WAIT_POLICY'], os.environ['KMP_BLOCKTIME'])"
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "KMP_BLOCKTIME")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env).stdout.split()
    assert out == ["PASSIVE", "0"]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**env, "OMP_WAIT_POLICY": "ACTIVE"}).stdout.split()
    assert out[0] == "ACTIVE"


def test_threads_capped_by_affinity_and_set_by_option():
    before = torch.get_num_threads()
    try:
        assert set_threads() <= available_cpus()
        assert set_threads(1) == 1 and torch.get_num_threads() == 1
        from madcell.cli import app

        res = CliRunner().invoke(app, ["--threads", "1", "synth", "--help"])
        assert res.exit_code == 0 and torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
