import numpy as np
import pytest

from madcell.config import load_config
from madcell.train.plan import plan_run
from madcell.train.schedules import build_schedules, cosine_schedule, plot_schedules


def test_cosine_schedule_warmup_and_ends():
    s = cosine_schedule(1.0, 0.0, total=10, warmup=4, start_warmup=0.0)
    assert len(s) == 10
    np.testing.assert_allclose(s[:4], [0.0, 0.25, 0.5, 0.75])
    assert s[4] == pytest.approx(1.0) and s[-1] == pytest.approx(0.0)
    # half cosine over 6 points: value at t = 1/5 is 0.5 * (1 + cos(pi / 5))
    assert s[5] == pytest.approx(0.5 * (1 + np.cos(np.pi / 5)))
    assert np.all(np.diff(s[4:]) <= 0)


def test_cosine_schedule_degenerate_lengths():
    np.testing.assert_allclose(cosine_schedule(0.992, 1.0, total=1), [1.0])
    np.testing.assert_allclose(cosine_schedule(0.5, 0.1, total=3, warmup=5), [0.0, 0.5 / 3, 1.0 / 3])


def test_build_schedules_from_config(tmp_path):
    cfg = load_config(None, {"train": {"lr": 5e-4, "warmup_frac": 0.1, "min_lr": 1e-6},
                             "loss": {"warmup_teacher_temp": 0.02, "teacher_temp": 0.05, "warmup_teacher_temp_frac": 0.5},
                             "head": {"freeze_last_layer_epochs": 1}})
    s = build_schedules(cfg, total=100, steps_per_epoch=20, global_batch=512)
    assert s.total == 100
    assert s.lr.max() == pytest.approx(5e-4 * 2)  # scaled by batch / 256
    assert s.lr[0] == 0.0 and s.lr[-1] == pytest.approx(1e-6)
    assert s.weight_decay[0] == pytest.approx(0.04) and s.weight_decay[-1] == pytest.approx(0.4)
    assert s.momentum[0] == pytest.approx(0.992) and s.momentum[-1] == pytest.approx(1.0)
    assert s.teacher_temp[0] == pytest.approx(0.02) and s.teacher_temp[49:].min() == pytest.approx(0.05)
    assert s.freeze_iters == 20 and np.all(s.last_layer_lr[:20] == 0) and np.all(s.last_layer_lr[20:] == s.lr[20:])
    assert s.at(10_000)["mom"] == pytest.approx(1.0)  # clamped past the end
    plot_schedules(s, tmp_path / "schedules.png")
    assert (tmp_path / "schedules.png").read_bytes()[:4] == b"\x89PNG"


def test_short_run_never_frozen_throughout():
    cfg = load_config(None, {"head": {"freeze_last_layer_epochs": 1}})
    s = build_schedules(cfg, total=6, steps_per_epoch=50, global_batch=256)
    assert s.freeze_iters == 3


def test_plan_run_takes_the_smallest_limit():
    assert plan_run(10, 30).total_iters == 300
    p = plan_run(10, 30, max_steps=50)
    assert (p.total_iters, p.reason) == (50, "max_steps")
    # 100 s budget, 10 s elapsed, 0.5 s/step, an eval of 2 s every 20 steps plus one final eval
    p = plan_run(10, 30, None, time_budget_s=100, sec_per_step=0.5, sec_per_eval=2.0, eval_every=20,
                 elapsed_s=10, safety=1.0)
    assert p.reason == "time_budget" and p.total_iters == int((90 - 2) / (0.5 + 0.1))
    assert plan_run(10, 30, None, time_budget_s=1, sec_per_step=5.0).total_iters == 1
    with pytest.raises(ValueError):
        plan_run(1, 1, None, time_budget_s=10)
