import math

import pytest
import torch

import madcell.train.setup as setup
from madcell.errors import TrainingDiverged
from madcell.train import pretrain
from madcell.train.checkpoint import all_finite, load_checkpoint


def test_injected_nan_stops_and_keeps_last_good_checkpoint(tiny_store, tiny_cfg, tmp_path, monkeypatch):
    torch.set_num_threads(1)
    real = setup.build_loss

    def poisoned(cfg, sched):
        loss = real(cfg, sched)
        forward = loss.forward

        def fwd(s_out, t_out, it):
            total, terms = forward(s_out, t_out, it)
            if it == 3:
                terms = {**terms, "uu": float("nan")}
                total = total * float("nan")
            return total, terms

        loss.forward = fwd
        return loss

    monkeypatch.setattr(setup, "build_loss", poisoned)
    tiny_cfg["train"]["ckpt_every"] = 1
    with pytest.raises(TrainingDiverged, match=r"step 3: loss = nan \(lr"):
        pretrain(tiny_store, tiny_cfg, tmp_path / "run", max_steps=6, progress=False)
    state = load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")
    assert state["it"] == 3  # the state before the poisoned step, never a later one
    assert all(torch.isfinite(v).all() for v in state["student"].values() if v.is_floating_point())
    assert not (tmp_path / "run" / "export").exists()


def test_exploding_lr_never_checkpoints_a_bad_state(tiny_store, tiny_cfg, tmp_path):
    torch.set_num_threads(1)
    tiny_cfg["train"].update(lr=1e30, warmup_frac=0.0, ckpt_every=1, clip_grad=None)
    with pytest.raises(TrainingDiverged, match="diverged at step"):
        pretrain(tiny_store, tiny_cfg, tmp_path / "run", max_steps=8, progress=False)
    ckpt = tmp_path / "run" / "checkpoints" / "last.pt"
    if ckpt.exists():
        state = load_checkpoint(ckpt)
        m = torch.nn.ParameterList([torch.nn.Parameter(v.float()) for v in state["student"].values()])
        assert all_finite(m)
        assert math.isfinite(state["elapsed_s"])


def test_cli_divergence_is_exit_code_3_with_one_line(tiny_store, tiny_cfg, tmp_path):
    import yaml
    from typer.testing import CliRunner

    from madcell.cli import app

    torch.set_num_threads(1)
    tiny_cfg["train"].update(lr=1e30, warmup_frac=0.0, ckpt_every=1, clip_grad=None)
    cfg = tmp_path / "tiny.yaml"
    cfg.write_text(yaml.safe_dump({k: tiny_cfg[k] for k in ("model", "head", "augment", "train")}))
    res = CliRunner().invoke(app, ["pretrain", str(tiny_store), "--out", str(tmp_path / "run"), "--config", str(cfg),
                                   "--max-steps", "8", "--quiet"])
    lines = [l for l in res.output.splitlines() if l.startswith("error:")]
    assert res.exit_code == 3 and len(lines) == 1 and "diverged at step" in lines[0], res.output


def test_collapsed_teacher_stops_the_run_with_a_diagnosis(tiny_store, tiny_cfg, tmp_path):
    """A teacher so hot that every cell gets the uniform distribution (a real collapse, nothing mocked)
    stops the run after `collapse_patience` logs, exit class 'numerical', checkpoints kept."""
    from madcell.errors import TrainingCollapsed, exit_code

    torch.set_num_threads(1)
    tiny_cfg["loss"].update(teacher_temp=1000.0, warmup_teacher_temp=1000.0)
    tiny_cfg["train"].update(log_every=1, ckpt_every=1, collapse_patience=3, collapse_min_step=0)
    with pytest.raises(TrainingCollapsed, match=r"collapsed to the uniform distribution at step 3") as exc:
        pretrain(tiny_store, tiny_cfg, tmp_path / "run", max_steps=8, progress=False)
    assert exit_code(exc.value) == 3 and "teacher_temp" in str(exc.value)
    assert load_checkpoint(tmp_path / "run" / "checkpoints" / "last.pt")["it"] == 2  # written before the stop
    assert not (tmp_path / "run" / "export").exists()
    # a healthy run with the same watch settings is not stopped
    tiny_cfg["loss"].update(teacher_temp=0.04, warmup_teacher_temp=0.04)
    s = pretrain(tiny_store, tiny_cfg, tmp_path / "ok", max_steps=8, progress=False)
    assert s["finished"]


def test_collapse_watch_needs_consecutive_logs():
    from madcell.errors import TrainingCollapsed
    from madcell.train.monitor import CollapseWatch

    w = CollapseWatch(k=100, frac=0.98, patience=2, min_step=10)
    one = {"teacher_entropy": 0.01, "teacher_kl_uniform": math.log(100)}
    ok = {"teacher_entropy": 2.0, "teacher_kl_uniform": 0.5}
    w.update(5, one)
    w.update(6, one)  # before min_step: ignored
    w.update(10, one)
    w.update(11, ok)  # the streak is broken
    w.update(12, one)
    with pytest.raises(TrainingCollapsed, match="one prototype at step 13"):
        w.update(13, one)
