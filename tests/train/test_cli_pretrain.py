"""End-to-end ``madcell pretrain`` on the tiny store: export/, metrics.csv, errors."""

import json

import pandas as pd
import torch
import yaml
from typer.testing import CliRunner

from train_tiny import TINY
from madcell.cli import app
from madcell.models import Encoder

runner = CliRunner()


def _text(res) -> str:
    """The output with rich's line wrapping undone."""
    return " ".join(res.output.split())


def test_cli_pretrain_end_to_end(tiny_store, tmp_path):
    torch.set_num_threads(1)
    cfg_file = tmp_path / "tiny.yaml"
    cfg_file.write_text(yaml.safe_dump(TINY))
    out = tmp_path / "run"
    res = runner.invoke(app, ["pretrain", str(tiny_store), "--config", str(cfg_file), "--out", str(out),
                              "--max-steps", "3", "--set", "loss.alpha=0.5", "-q"])
    assert res.exit_code == 0, res.output
    for name in ("export/model.json", "export/teacher.safetensors", "metrics.csv", "schedules.png",
                 "config.yaml", "summary.json", "checkpoints/last.pt"):
        assert (out / name).exists(), name
    assert any((out / "tb").iterdir())
    m = pd.read_csv(out / "metrics.csv")
    names = set(m["name"])
    for n in ("train/loss", "train/loss_mm", "train/loss_mu", "train/loss_um", "train/loss_uu",
              "train/teacher_entropy", "train/teacher_kl_uniform", "train/lr", "eval/recall@5",
              "eval/recall@5_chance", "init/knn_cell_type", "eval/knn_cell_type"):
        assert n in names, n
    assert sorted(m.loc[m["name"] == "train/loss", "step"]) == [1, 2, 3]
    assert yaml.safe_load((out / "config.yaml").read_text())["loss"]["alpha"] == 0.5
    summary = json.loads((out / "summary.json").read_text())
    assert summary["steps"] == 3 and summary["plan"]["reason"] == "max_steps"
    enc = Encoder.load(out)
    emb = enc.encode(torch.rand(2, 2, 14, 14), torch.rand(2, 2, 28, 28))
    assert emb["morph"].shape == (2, 32) and emb["micro"].shape == (2, 32)
    # a finished run refuses to be overwritten; --resume on it just re-exports
    res = runner.invoke(app, ["pretrain", str(tiny_store), "--config", str(cfg_file), "--out", str(out), "-q"])
    assert res.exit_code == 2 and "--resume" in _text(res)


def test_cli_time_budget_plans_the_run(tiny_store, tmp_path):
    torch.set_num_threads(1)
    cfg_file = tmp_path / "tiny.yaml"
    # the 64-prototype test model does collapse to uniform after ~200 steps: this test is about the plan
    cfg_file.write_text(yaml.safe_dump({**TINY, "train": {**TINY["train"], "epochs": 1000, "min_steps": 1, "collapse_patience": 0}}))
    out = tmp_path / "run"
    res = runner.invoke(app, ["pretrain", str(tiny_store), "-c", str(cfg_file), "-o", str(out),
                              "--time-budget", "6", "-q"])
    assert res.exit_code == 0, res.output
    s = json.loads((out / "summary.json").read_text())
    assert s["plan"]["reason"] == "time_budget" and s["plan"]["sec_per_step"] > 0
    assert s["steps"] == s["plan"]["total_iters"] < 1000 * s["plan"]["steps_per_epoch"]
    ckpt = torch.load(out / "checkpoints" / "last.pt", weights_only=False)
    assert ckpt["plan"] == s["plan"]


def test_budget_too_short_for_training_is_refused(tiny_store, tmp_path):
    """The issue's example: a budget eaten by setup used to give '1/1 steps' and an untrained teacher
    without a word. Now: exit 2, the reason and what to give instead, and no run folder."""
    torch.set_num_threads(1)
    cfg_file = tmp_path / "tiny.yaml"
    cfg_file.write_text(yaml.safe_dump({**TINY, "train": {**TINY["train"], "epochs": 1000, "min_steps": 100000}}))
    out = tmp_path / "run"
    res = runner.invoke(app, ["pretrain", str(tiny_store), "-c", str(cfg_file), "-o", str(out), "--time-budget", "3", "-q"])
    text = _text(res)
    assert res.exit_code == 2 and "--time-budget" in text and "warm-up" in text and "train.min_steps=100000" in text
    assert not out.exists()


def test_cli_input_errors(tiny_store, tmp_path):
    res = runner.invoke(app, ["pretrain", str(tmp_path / "missing.h5"), "--out", str(tmp_path / "r")])
    assert res.exit_code == 2 and "does not exist" in _text(res)
    bad = tmp_path / "not_a_store.h5"
    bad.write_text("hello")
    res = runner.invoke(app, ["pretrain", str(bad), "--out", str(tmp_path / "r")])
    assert res.exit_code == 2 and "not a readable HDF5" in _text(res)
    res = runner.invoke(app, ["pretrain", str(tiny_store), "--out", str(tmp_path / "r"), "--set", "train.nope=1"])
    assert res.exit_code == 2 and "train.nope" in _text(res)
    res = runner.invoke(app, ["pretrain", str(tiny_store), "--out", str(tmp_path / "r"), "--config", "no-such-preset"])
    assert res.exit_code == 2
    res = runner.invoke(app, ["pretrain", str(tiny_store), "--out", str(tmp_path / "r"), "--resume"])
    assert res.exit_code == 2 and "no checkpoint" in _text(res)
    res = runner.invoke(app, ["pretrain", "--help"])
    assert res.exit_code == 0 and "--time-budget" in res.output


def test_progress_lines_in_a_log_file(tiny_store, tmp_path, monkeypatch):
    """With output that is not a terminal the pretrain bar used to print nothing until the end: now plain
    lines with count, rate, ETA and the loss."""
    import re

    torch.set_num_threads(1)
    monkeypatch.setenv("MADCELL_PROGRESS_EVERY_S", "0")
    cfg_file = tmp_path / "tiny.yaml"
    cfg_file.write_text(yaml.safe_dump(TINY))
    res = runner.invoke(app, ["pretrain", str(tiny_store), "--config", str(cfg_file), "--out", str(tmp_path / "run"),
                              "--max-steps", "3"])
    assert res.exit_code == 0, res.output
    lines = [ln for ln in res.output.splitlines() if ln.startswith("pretrain: ")]
    assert len(lines) >= 3  # one per step, and the last
    assert re.match(r"pretrain: 3/3 steps \(100\.0 %\), [\d.]+ steps/s, elapsed \S+, ETA \S+  loss [\d.]+", lines[-1])
