"""``train.view_cut=device``: a lazy store's microenvironment views resized batched on the training
device (here the CPU standing in for a GPU) equal the views the loader workers cut, and train."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from madcell.data.lazy import LazyViews
from madcell.data.source import InMemoryViews
from madcell.data.store import ViewStore
from madcell.errors import InputError
from madcell.train import pretrain
from madcell.train.data import batch_loader, batch_views, use_device_cut
from madcell.views import prepare_slides

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "views"))
from views_toy import make_toy_slide  # noqa: E402

CFG = {"morph_size": 28, "micro_size": 56, "k_neighbors": 8, "tile_size": 128, "stats_sample_pixels": 20000}


@pytest.fixture(scope="module")
def lazy_store(tmp_path_factory):
    path = tmp_path_factory.mktemp("cut") / "lazy.h5"
    # without the stored micro level: views are resized from slide windows on read
    prepare_slides([make_toy_slide(height=400, width=450)], path, dict(CFG, views="lazy", lazy_micro_level=False),
                   progress=False)
    return path


def test_device_cut_equals_worker_cut(lazy_store):
    vs = ViewStore(lazy_store)
    assert isinstance(vs, LazyViews)
    batches = [np.array([5, 0, 17, 3, 40]), np.arange(len(vs))[::7]]
    cpu = list(batch_loader(vs, batches))
    dev = list(batch_loader(vs, batches, device_cut=True))
    for a, b in zip(cpu, dev):
        assert "micro" in a and "micro_win" in b and "micro" not in b
        va, vb = batch_views(a, torch.device("cpu")), batch_views(b, torch.device("cpu"))
        torch.testing.assert_close(va["morph"], vb["morph"], atol=0, rtol=0)
        assert vb["micro"].shape == va["micro"].shape and vb["micro"].dtype == torch.float32
        # the worker path rounds to uint8 after the same resize: half a grey level apart at most
        assert (va["micro"] - vb["micro"]).abs().max().item() <= 0.5 / 255 + 1e-6
        assert (vb["micro"] > 0.1).float().mean() > 0.05  # real tissue, not an empty crop


def test_gather_crop_equals_slicing():
    from madcell.views.cut import crop_gather

    big = torch.rand(5, 3, 40, 40)
    oy, ox = torch.tensor([0, 3, 10, 16, 7]), torch.tensor([16, 0, 5, 2, 9])
    ref = torch.stack([big[t, :, oy[t]:oy[t] + 24, ox[t]:ox[t] + 24] for t in range(5)])
    assert torch.equal(crop_gather(big, oy, ox, 24), ref)


def test_when_the_device_cut_applies(lazy_store, tiny_store, tmp_path):
    lazy, cpu, cuda = ViewStore(lazy_store), torch.device("cpu"), torch.device("cuda")
    assert use_device_cut("auto", lazy, cuda) and not use_device_cut("auto", lazy, cpu)
    assert use_device_cut("device", lazy, cpu) and not use_device_cut("cpu", lazy, cuda)
    assert not use_device_cut("device", ViewStore(tiny_store), cuda)  # materialised: nothing to cut
    assert not use_device_cut("device", InMemoryViews(lazy), cuda)  # already read into memory
    stored = ViewStore(prepare_slides([make_toy_slide(height=200, width=200)], tmp_path / "level.h5",
                                      dict(CFG, views="lazy"), progress=False))
    assert not stored.resizes_micro and not use_device_cut("auto", stored, cuda)  # reads are crops already
    with pytest.raises(ValueError, match="auto, cpu or device"):
        use_device_cut("gpu", lazy, cuda)


def test_pretrain_with_device_cut(lazy_store, tiny_cfg, tmp_path):
    torch.set_num_threads(1)
    tiny_cfg["augment"].update(local_size_morph=14, local_size_micro=28)
    tiny_cfg["train"].update(cache_mb=0, view_cut="device", eval_every=100)
    s = pretrain(lazy_store, tiny_cfg, tmp_path / "run", max_steps=2, progress=False)
    assert s["finished"] and s["export"]
    m = pd.read_csv(tmp_path / "run" / "metrics.csv")
    loss = m[m["name"] == "train/loss"]["value"].to_numpy()
    assert len(loss) == 2 and np.isfinite(loss).all()
    tiny_cfg["train"]["view_cut"] = "gpu"
    with pytest.raises(InputError, match="train.view_cut"):
        pretrain(lazy_store, tiny_cfg, tmp_path / "bad", max_steps=1, progress=False)
