"""An interrupted + resumed run ends with the same weights as an uninterrupted one."""

import csv

import torch

from madcell.train import pretrain
from madcell.train.checkpoint import load_checkpoint


def _final(run):
    return load_checkpoint(run / "checkpoints" / "last.pt")


def test_resume_is_exact(tiny_store, tiny_cfg, tmp_path):
    torch.set_num_threads(1)
    full = pretrain(tiny_store, tiny_cfg, tmp_path / "full", max_steps=6, progress=False)
    assert full["steps"] == 6 and full["finished"]

    part = pretrain(tiny_store, tiny_cfg, tmp_path / "part", max_steps=6, progress=False, stop_after=3)
    assert part["steps"] == 3 and not part["finished"] and part["export"] is None
    assert _final(tmp_path / "part")["it"] == 3
    resumed = pretrain(tiny_store, None, tmp_path / "part", resume=True, progress=False)
    assert resumed["steps"] == 6 and resumed["finished"]
    assert (tmp_path / "part" / "export" / "teacher.safetensors").exists()

    a, b = _final(tmp_path / "full"), _final(tmp_path / "part")
    assert a["it"] == b["it"] == 6 and a["plan"] == b["plan"]
    for key in ("student", "teacher", "loss"):
        assert a[key].keys() == b[key].keys()
        for k in a[key]:
            assert torch.allclose(a[key][k], b[key][k], atol=1e-6, rtol=0), (key, k)
    assert not torch.equal(a["teacher"]["net.head.mlp.0.weight"], a["student"]["net.head.mlp.0.weight"])
    # the resumed log has every training step exactly once
    with open(tmp_path / "part" / "metrics.csv") as fh:
        steps = [int(r["step"]) for r in csv.DictReader(fh) if r["name"] == "train/loss"]
    assert steps == [1, 2, 3, 4, 5, 6]


def test_resume_with_a_lower_lr_when_asked(tiny_store, tiny_cfg, tmp_path):
    import pytest
    import yaml

    from madcell.errors import InputError

    torch.set_num_threads(1)
    pretrain(tiny_store, tiny_cfg, tmp_path / "run", max_steps=6, progress=False, stop_after=3)
    with pytest.raises(InputError, match="model.depth cannot change when resuming"):
        pretrain(tiny_store, None, tmp_path / "run", resume=True, progress=False, resume_overrides={"model": {"depth": 3}})
    with pytest.raises(InputError, match="train.lr"):
        pretrain(tiny_store, None, tmp_path / "run", resume=True, progress=False, resume_overrides={"train": {"lr": "abc"}})
    s = pretrain(tiny_store, None, tmp_path / "run", resume=True, progress=False, resume_overrides={"train": {"lr": 1e-6}})
    assert s["finished"] and s["steps"] == 6
    assert yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())["train"]["lr"] == 1e-6
    with open(tmp_path / "run" / "metrics.csv") as fh:
        lrs = {int(r["step"]): float(r["value"]) for r in csv.DictReader(fh) if r["name"] == "train/lr"}
    assert lrs[2] > 1e-5 and lrs[5] < 2e-6  # before: the original schedule (peak 1e-3 x 8/256); after: the new lr


def test_cli_resume_accepts_set_for_schedule_keys(tiny_store, tiny_cfg, tmp_path):
    from typer.testing import CliRunner

    from madcell.cli import app

    torch.set_num_threads(1)
    pretrain(tiny_store, tiny_cfg, tmp_path / "run", max_steps=6, progress=False, stop_after=3)
    res = CliRunner().invoke(app, ["pretrain", str(tiny_store), "--out", str(tmp_path / "run"), "--resume",
                                   "--set", "train.lr=1e-5", "--quiet"])
    assert res.exit_code == 0, res.output
    assert "resuming with changed schedule keys: train.lr=1e-5" in res.output
    bad = CliRunner().invoke(app, ["pretrain", str(tiny_store), "--out", str(tmp_path / "run2"), "--resume"])
    assert bad.exit_code == 2


def test_resume_on_another_store_is_refused(tiny_store, tiny_cfg, tmp_path):
    import pytest

    from madcell.errors import InputError
    from train_tiny import make_tiny_store

    torch.set_num_threads(1)
    pretrain(tiny_store, tiny_cfg, tmp_path / "part", max_steps=6, progress=False, stop_after=3)
    other = make_tiny_store(tmp_path / "other.h5", n=80, seed=1)
    with pytest.raises(InputError, match=r"is not the store this run was trained on \(n_cells, cell_ids_sha differ\)") as exc:
        pretrain(other, None, tmp_path / "part", resume=True, progress=False)
    assert "other.h5" in str(exc.value)
    assert _final(tmp_path / "part")["it"] == 3  # the run is untouched
