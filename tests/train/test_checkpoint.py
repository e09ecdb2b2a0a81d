import random

import numpy as np
import pytest
import torch

from madcell.errors import InputError
from madcell.train import checkpoint as C


def test_save_is_atomic_and_keeps_the_previous_file(tmp_path, monkeypatch):
    path = tmp_path / "checkpoints" / "last.pt"
    C.save_checkpoint(path, {"it": 1, "w": torch.ones(3)})
    real_save = torch.save

    def dying_save(obj, f, *a, **k):
        real_save(obj, f, *a, **k)  # the temp file is fully written ...
        raise KeyboardInterrupt  # ... and then the process is killed before the rename

    monkeypatch.setattr(torch, "save", dying_save)
    with pytest.raises(KeyboardInterrupt):
        C.save_checkpoint(path, {"it": 2, "w": torch.zeros(3)})
    monkeypatch.setattr(torch, "save", real_save)
    state = C.load_checkpoint(path)
    assert state["it"] == 1 and torch.equal(state["w"], torch.ones(3))
    assert sorted(p.name for p in path.parent.iterdir()) == ["last.pt"]  # no partial file left


def test_load_rejects_missing_and_foreign(tmp_path):
    with pytest.raises(InputError, match="no checkpoint"):
        C.load_checkpoint(tmp_path / "nope.pt")
    torch.save({"a": 1}, tmp_path / "foreign.pt")
    with pytest.raises(InputError, match="not a madcell"):
        C.load_checkpoint(tmp_path / "foreign.pt")
    (tmp_path / "junk.pt").write_bytes(b"garbage")
    with pytest.raises(InputError, match="not a readable"):
        C.load_checkpoint(tmp_path / "junk.pt")


def test_rng_state_roundtrip():
    g = torch.Generator().manual_seed(3)
    state = C.rng_state(g)
    first = (random.random(), np.random.rand(), torch.rand(1).item(), torch.rand(1, generator=g).item())
    C.set_rng_state(state, g)
    again = (random.random(), np.random.rand(), torch.rand(1).item(), torch.rand(1, generator=g).item())
    assert first == again


def test_all_finite():
    m = torch.nn.Linear(2, 2)
    assert C.all_finite(m)
    with torch.no_grad():
        m.weight[0, 0] = float("nan")
    assert not C.all_finite(m)
