from __future__ import annotations

import copy
import json

import pytest
import torch

from madcell.errors import InputError
from madcell.models import Encoder, build_student_teacher, export_teacher


@pytest.mark.parametrize("mode", ["both", "separate"])
def test_export_round_trip(tmp_path, tiny_cfg, mode):
    cfg = copy.deepcopy(tiny_cfg)
    cfg["train"]["views"] = mode
    _, teacher = build_student_teacher(cfg, 2)
    out = export_teacher(teacher, cfg, ["DAPI", "CD45"], tmp_path / "run" / "export")
    meta = json.loads((out / "model.json").read_text())
    assert meta["views_mode"] == mode and meta["embed_dim"] == 32
    assert (meta["morph_size"], meta["micro_size"]) == (42, 84)
    assert meta["backbone"]["in_chans"] == 2 and meta["backbone"]["patch_size"] == 14
    assert meta["channel_names"] == ["DAPI", "CD45"]
    assert not list(out.glob(".*partial*"))

    enc = Encoder.load(tmp_path / "run")  # a run directory holding one export
    assert enc.embed_dim == 32 and enc.views_mode == mode and enc.channel_names == ["DAPI", "CD45"]
    g = torch.Generator().manual_seed(0)
    morph, micro = torch.rand(3, 2, 42, 42, generator=g), torch.rand(3, 2, 84, 84, generator=g)
    emb = enc.encode(morph, micro)
    teacher.eval()
    with torch.no_grad():
        assert torch.equal(emb["morph"], teacher.embed(morph, "morph"))
        assert torch.equal(emb["micro"], teacher.embed(micro, "micro"))
    # other input sizes are resized to the training sizes; uint8 is scaled to 0-1
    big = enc.encode(torch.rand(3, 2, 70, 70), (micro * 255).round().to(torch.uint8))
    assert big["morph"].shape == (3, 32) and big["micro"].shape == (3, 32)
    assert Encoder.load(out / "model.json").to("cpu").encode(morph, micro)["morph"].equal(emb["morph"])


def test_morph_mode_still_yields_both_parts(tmp_path, tiny_cfg):
    cfg = copy.deepcopy(tiny_cfg)
    cfg["train"]["views"] = "morph"
    _, teacher = build_student_teacher(cfg, 1)
    enc = Encoder.load(export_teacher(teacher, cfg, ["DAPI"], tmp_path))
    emb = enc.encode(torch.rand(2, 1, 42, 42), torch.rand(2, 1, 84, 84))
    assert set(emb) == {"morph", "micro"} and emb["micro"].shape == (2, 32)


def test_untrained_control_is_seeded(tiny_cfg):
    a = Encoder.untrained(tiny_cfg, 3, ["a", "b", "c"], seed=1)
    b = Encoder.untrained(tiny_cfg, 3, ["a", "b", "c"], seed=1)
    c = Encoder.untrained(tiny_cfg, 3, ["a", "b", "c"], seed=2)
    x = torch.rand(2, 3, 42, 42), torch.rand(2, 3, 84, 84)
    assert torch.equal(a.encode(*x)["morph"], b.encode(*x)["morph"])
    assert not torch.equal(a.encode(*x)["morph"], c.encode(*x)["morph"])
    with pytest.raises(InputError, match="expects"):
        a.encode(torch.rand(2, 4, 42, 42), x[1])


def test_load_errors(tmp_path):
    with pytest.raises(InputError, match="no exported teacher"):
        Encoder.load(tmp_path)
    with pytest.raises(InputError, match="does not exist"):
        Encoder.load(tmp_path / "nowhere")
    (tmp_path / "model.json").write_text("{broken")
    with pytest.raises(InputError, match="cannot be read"):
        Encoder.load(tmp_path)
