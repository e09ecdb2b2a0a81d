import numpy as np
import pytest

from madcell.train.probes import knn_accuracy, knn_cv_predict, knn_predict, recall_at_k


def test_recall_at_k_hand_computed():
    # query i should retrieve gallery i; cosine similarities chosen by hand
    q = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    g = np.array([[1.0, 0.1], [1.0, 0.0], [0.0, 1.0]])
    # q0 -> sims (0.995, 1.0, 0.0):    own g0 = 0.995, one row above it      -> rank 1
    # q1 -> sims (0.0995, 0.0, 1.0):   own g1 = 0.0, two rows above it       -> rank 2
    # q2 -> sims (0.774, 0.707, 0.707): own g2 = 0.707, one above, one tied  -> rank 2 (pessimistic)
    r = recall_at_k(q, g, ks=(1, 2, 3))
    assert r[1] == pytest.approx(0.0)
    assert r[2] == pytest.approx(1 / 3)
    assert r[3] == pytest.approx(1.0)


def test_recall_identity_is_perfect_and_scale_free():
    x = np.random.default_rng(0).normal(size=(20, 8))
    assert recall_at_k(x, 3.0 * x, (1,))[1] == 1.0


def test_knn_predict_hand_computed():
    train = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [0.1, 0.9], [0.7, 0.7]])
    y = np.array(["a", "a", "b", "b", "b"])
    test = np.array([[1.0, 0.05], [0.05, 1.0], [0.6, 0.8]])
    assert list(knn_predict(train, y, test, k=1)) == ["a", "b", "b"]
    # k=3 for test0: nearest are train0, train1 (a, a), then train4 (b): majority a
    assert knn_predict(train, y, test[:1], k=3)[0] == "a"
    # k=2 tie for test2 ([0.6,0.8]): nearest train4 (b, 0.99) and train3 (b) -> b
    assert knn_predict(train, y, test[2:], k=2)[0] == "b"


def test_knn_tie_broken_by_similarity():
    train = np.array([[1.0, 0.0], [0.0, 1.0]])
    y = np.array(["x", "y"])
    assert knn_predict(train, y, np.array([[0.9, 0.2]]), k=2)[0] == "x"


def test_knn_accuracy_separable_and_chance():
    rng = np.random.default_rng(1)
    a = rng.normal([5, 0], 0.3, size=(30, 2))
    b = rng.normal([0, 5], 0.3, size=(10, 2))
    emb = np.vstack([a, b])
    lab = np.array(["a"] * 30 + ["b"] * 10)
    r = knn_accuracy(emb, lab, k=3, n_folds=4)
    assert r["acc"] == 1.0 and r["balanced_acc"] == 1.0 and r["chance"] == pytest.approx(0.75)
    # missing labels are dropped; a single class is undefined
    r = knn_accuracy(emb, np.array(["a"] * 39 + [""]), k=3)
    assert np.isnan(r["acc"])


def test_knn_cv_predict_pairs_cells_and_matches_accuracy():
    rng = np.random.default_rng(2)
    emb = np.vstack([rng.normal([3, 0], 1.0, size=(25, 2)), rng.normal([0, 3], 1.0, size=(25, 2))])
    lab = np.array(["a"] * 25 + ["b"] * 25, dtype=object)
    lab[[3, 30]] = ""  # missing labels are dropped, the rest keep their row numbers
    kept, y, pred = knn_cv_predict(emb, lab, k=5, n_folds=5, seed=4)
    assert len(kept) == 48 and 3 not in kept and 30 not in kept
    assert list(y) == list(lab[kept])
    assert np.mean(pred == y) == pytest.approx(knn_accuracy(emb, lab, k=5, n_folds=5, seed=4)["acc"])
    # same seed -> same folds: a second embedding of the same cells is predicted fold for fold
    _, _, pred2 = knn_cv_predict(emb * 2.0, lab, k=5, n_folds=5, seed=4)
    assert np.array_equal(pred, pred2)  # cosine kNN is scale-free, so the predictions are identical
