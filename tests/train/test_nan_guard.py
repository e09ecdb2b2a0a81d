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
