"""Every views mode trains a couple of steps and logs the loss terms it should have."""

import pandas as pd
import pytest
import torch

from madcell.train import pretrain

TERMS = {"morph": {"mm"}, "micro": {"uu"}, "separate": {"mm", "uu", "mu", "um"}, "exclusive": {"um"}}


@pytest.mark.parametrize("mode", sorted(TERMS))
def test_views_mode_trains(tiny_store, tiny_cfg, tmp_path, mode):
    torch.set_num_threads(1)
    tiny_cfg["train"].update(views=mode, eval_every=100)
    tiny_cfg["loss"]["koleo_weight"] = 0.1 if mode == "separate" else 0.0
    s = pretrain(tiny_store, tiny_cfg, tmp_path / mode, max_steps=2, progress=False)
    assert s["finished"] and s["export"]
    m = pd.read_csv(tmp_path / mode / "metrics.csv")
    logged = {n[len("train/loss_"):] for n in m["name"] if n.startswith("train/loss_")}
    expected = TERMS[mode] | ({"koleo"} if mode == "separate" else set())
    assert logged == expected
    last = m[(m["name"] == "train/loss") & (m["step"] == 2)]["value"].item()
    if mode == "separate":  # cross-view terms are logged but carry no weight
        parts = m[m["step"] == 2].set_index("name")["value"]
        assert last == pytest.approx(parts["train/loss_mm"] + parts["train/loss_uu"] + 0.1 * parts["train/loss_koleo"], rel=1e-4)
