"""StarDist / Cellpose adapters: refused without the package or a local model; plumbing checked
with stand-in packages (the real ones are not installed in CI, and no weights are downloaded)."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import sys
import types

import numpy as np
import pytest
import tifffile
from scipy import ndimage

from madcell.errors import InputError
from madcell.segment import match_labels, segment
from madcell.segment.adapters import check_method


def _package(monkeypatch, name: str, **submodules) -> None:
    """Install a stand-in package ``name`` whose submodules hold the given attributes."""
    root = types.ModuleType(name)
    root.__spec__ = importlib.machinery.ModuleSpec(name, None)
    monkeypatch.setitem(sys.modules, name, root)
    for sub, attrs in submodules.items():
        mod = types.ModuleType(f"{name}.{sub}")
        for key, value in attrs.items():
            setattr(mod, key, value)
        setattr(root, sub, mod)
        monkeypatch.setitem(sys.modules, f"{name}.{sub}", mod)


def _threshold(x: np.ndarray) -> np.ndarray:
    """What the stand-in models predict: connected blobs of the normalised input above 0.35."""
    x = x.mean(axis=-1) if x.ndim == 3 else x
    return ndimage.label(ndimage.gaussian_filter(x, 1.5) > 0.35)[0]


@pytest.mark.parametrize("method", ["stardist", "cellpose"])
def test_refused_without_package_or_model(method, tmp_path):
    with pytest.raises(InputError, match="never downloads"):
        check_method(method, None)
    with pytest.raises(InputError, match="does not exist"):
        check_method(method, tmp_path / "missing")
    if importlib.util.find_spec(method) is None:
        with pytest.raises(InputError, match="not installed"):
            check_method(method, tmp_path)


def test_stardist_adapter(monkeypatch, fluo_tissue, tmp_path):
    folder, true_nuclei, _ = fluo_tissue
    calls = []

    class StarDist2D:
        def __init__(self, config, name, basedir):
            calls.append((config, name, basedir))

        def predict_instances(self, x):
            calls.append(x)
            return _threshold(x), {}

    _package(monkeypatch, "stardist", models={"StarDist2D": StarDist2D})
    model = tmp_path / "models" / "my_model"
    model.mkdir(parents=True)
    s = segment(folder / "image.ome.tif", tmp_path / "out", method="stardist", model=model, progress=False)
    assert calls[0] == (None, "my_model", str(model.parent))
    x = calls[1]
    assert x.ndim == 2 and np.percentile(x, 1) == pytest.approx(0, abs=0.05)  # slide-wide 1-99.8 % scaling
    assert s["method"] == "stardist" and s["model"] == str(model)
    assert match_labels(true_nuclei, tifffile.imread(tmp_path / "out" / "nuclei.tif")).f1 > 0.5


def test_cellpose_adapter(monkeypatch, he_tissue, tmp_path):
    folder = he_tissue[0]
    calls = []

    class CellposeModel:
        def __init__(self, gpu, pretrained_model):
            calls.append(pretrained_model)

        def eval(self, x, diameter, normalize):
            calls.append((x.shape, diameter, normalize))
            return _threshold(x), None, None

    _package(monkeypatch, "cellpose", models={"CellposeModel": CellposeModel})
    weights = tmp_path / "nuclei_model"
    weights.write_bytes(b"weights")
    s = segment(folder / "image.ome.tif", tmp_path / "out", method="cellpose", model=weights, progress=False)
    assert calls[0] == str(weights)
    shape, diameter, normalize = calls[1]
    assert len(shape) == 2 and diameter == pytest.approx(16.0) and normalize is False  # 8 µm at 0.5 µm/px
    assert s["n_cells"] > 0


def test_model_that_fails_to_load(monkeypatch, fluo_tissue, tmp_path):
    class StarDist2D:
        def __init__(self, *a, **k):
            raise FileNotFoundError("config.json")

    _package(monkeypatch, "stardist", models={"StarDist2D": StarDist2D})
    with pytest.raises(InputError, match="cannot load a StarDist 2D model"):
        segment(fluo_tissue[0] / "image.ome.tif", tmp_path / "out", method="stardist", model=tmp_path, progress=False)
    assert not (tmp_path / "out").exists()
