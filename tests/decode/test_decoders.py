"""Decoders recover planted signals, stop early, and round-trip through save/load."""

import numpy as np
import pytest
from sklearn.metrics import balanced_accuracy_score

from madcell.config import load_config
from madcell.decode import ClassifierDecoder, RegressionDecoder, fit_classifier, fit_regressor, transform_expression


pytestmark = pytest.mark.usefixtures("one_thread")


def _cfg(**kw):
    c = load_config()["decode"]
    c.update(max_epochs=80, patience=8, batch_size=64)
    c.update(kw)
    return c


def _imbalanced(n=900, d=8, seed=0):
    rng = np.random.default_rng(seed)
    y = rng.choice(3, size=n, p=[0.82, 0.13, 0.05])
    X = rng.normal(size=(n, d)).astype(np.float32)
    X[:, 0] += 4.0 * (y == 1)
    X[:, 1] += 4.0 * (y == 2)  # linearly separable directions
    return X, np.array(["common", "rare", "very_rare"], dtype=object)[y]


@pytest.mark.parametrize("balance", ["reweight", "sample"])
def test_classifier_recovers_imbalanced_labels(balance):
    X, y = _imbalanced()
    train, test = np.arange(600), np.arange(600, 900)
    dec = fit_classifier(X[train], y[train], _cfg(balance=balance))
    pred = dec.predict(X[test])
    assert balanced_accuracy_score(y[test], pred) > 0.9
    proba = dec.predict_proba(X[test])
    assert proba.shape == (300, 3) and np.allclose(proba.sum(1), 1, atol=1e-5)
    assert dec.classes == ["common", "rare", "very_rare"]


def test_regressor_recovers_nonlinear_genes():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(1200, 6)).astype(np.float32)
    signal = np.stack([np.sin(X[:, 0]) * 2, X[:, 1] ** 2, np.tanh(X[:, 2] * X[:, 3])], 1)
    Y = signal + rng.normal(scale=0.2, size=signal.shape)
    dec = fit_regressor(X[:900], Y[:900], _cfg(max_epochs=150, patience=10), genes=["a", "b", "c"])
    pred = dec.predict(X[900:])
    r = [np.corrcoef(pred[:, j], signal[900:, j])[0, 1] for j in range(3)]
    assert min(r) > 0.8, r


def test_early_stopping_stops_on_noise():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(400, 5)).astype(np.float32)
    Y = rng.normal(size=(400, 2)).astype(np.float32)  # nothing to learn: validation loss stalls
    dec = fit_regressor(X, Y, _cfg(max_epochs=300, patience=4))
    h = dec.meta["history"]
    assert h["stopped_early"] and h["epochs_run"] < 300
    assert h["epochs_run"] == h["best_epoch"] + 1 + 4
    assert len(h["val_loss"]) == h["epochs_run"]


def test_save_load_roundtrip(tmp_path):
    X, y = _imbalanced(n=300)
    clf = fit_classifier(X, y, _cfg(max_epochs=5))
    clf.save(tmp_path, "clf")
    again = ClassifierDecoder.load(tmp_path, "clf")
    np.testing.assert_allclose(again.predict_proba(X), clf.predict_proba(X), atol=1e-6)
    reg = fit_regressor(X, X[:, :2] * 2 + 1, _cfg(max_epochs=5), genes=["g1", "g2"], transform="log1p")
    reg.save(tmp_path, "reg")
    again = RegressionDecoder.load(tmp_path, "reg")
    np.testing.assert_allclose(again.predict(X), reg.predict(X), atol=1e-5)
    assert again.genes == ["g1", "g2"] and again.meta["transform"] == "log1p"
    assert (tmp_path / "reg.json").exists() and (tmp_path / "reg.pt").exists()


def test_transforms_by_hand():
    X = np.array([[1.0, 3.0, 6.0], [0.0, 0.0, 0.0]])
    np.testing.assert_allclose(transform_expression(X, "counts"), X)
    np.testing.assert_allclose(transform_expression(X, "log1p", [2]), np.log1p([[6.0], [0.0]]), rtol=1e-6)
    # per 10k over ALL genes (total 10), even when only gene 0 is selected
    np.testing.assert_allclose(transform_expression(X, "cp10k_log1p", [0]), [[np.log1p(1000.0)], [0.0]], rtol=1e-6)
    with pytest.raises(ValueError):
        transform_expression(X, "sqrt")


def test_hidden_width_follows_config():
    X, y = _imbalanced(n=200)
    dec = fit_classifier(X, y, _cfg(max_epochs=2, hidden_mult=3))
    assert dec.meta["hidden"] == 24
    assert dec.model.net[0].out_features == 24
