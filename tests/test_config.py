"""Config overrides are type- and range-checked against the defaults: a bad --set is a one-line error."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from madcell.cli import app
from madcell.config import load_config
from madcell.errors import InputError


@pytest.mark.parametrize("override, problem", [
    ("train.lr=abc", "must be float"),
    ("train.batch_size=0", "must be positive"),
    ("train.batch_size=2.5", "must be int"),
    ("prepare.k_neighbors=2.7", "must be int"),
    ("train.max_steps=-5", "must be positive"),
    ("evaluate.n_folds=1", "at least 2"),
    ("augment.flip=yes please", "must be bool"),
    ("augment.global_scale=0.5", "must be list"),
])
def test_bad_overrides_are_errors(override, problem):
    with pytest.raises(InputError, match=problem):
        load_config("cpu-tiny", [override])


def test_good_overrides_still_pass():
    assert load_config("cpu-tiny", ["train.lr=1e-4"])["train"]["lr"] == 1e-4  # YAML 1.1 reads 1e-4 as a string
    cfg = load_config("cpu-tiny", ["train.lr=1.0e-4", "train.max_steps=10", "model.layer_scale=null", "train.lr=3",
                                   "augment.micro_keep_center=0.2", "train.time_budget_s=60"])
    assert cfg["train"]["lr"] == 3 and cfg["model"]["layer_scale"] is None and cfg["augment"]["micro_keep_center"] == 0.2


def test_cli_set_with_a_wrong_type_exits_2_with_one_line(tmp_path):
    store = tmp_path / "s.h5"
    store.write_bytes(b"never opened: the config is checked first")
    res = CliRunner().invoke(app, ["pretrain", str(store), "--out", str(tmp_path / "run"), "--set", "train.lr=abc"])
    assert res.exit_code == 2 and "train.lr" in res.output and "Traceback" not in res.output
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("steps", ["0", "-5"])
def test_pretrain_nonpositive_max_steps_is_an_error(tmp_path, steps):
    store = tmp_path / "s.h5"
    store.write_bytes(b"x")
    res = CliRunner().invoke(app, ["pretrain", str(store), "--out", str(tmp_path / "run"), "--max-steps", steps])
    assert res.exit_code == 2 and "--max-steps" in res.output and not (tmp_path / "run").exists()
