"""Recall@K: ties count against the true match, one implementation for training and evaluation."""

import numpy as np
import pytest

from madcell.evaluate import probes, retrieval
from madcell.train import probes as train_probes


def test_hand_case_ties_count_against_the_match():
    q = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [1.0, -1.0]])
    g = np.array([[1.0, 0.1], [1.0, 0.0], [-1.0, 0.0], [0.0, -1.0]])
    # own-match ranks (every tie ranks ahead of the match): q0: g0 (cos .995) beaten by g1 (1.0) -> 1;
    # q1: g1 (0) beaten by g0 (.0995), tied by g2 (0) -> 2; q2: g2 (-0.71) beaten by g0, g1, tied by
    # g3 (-0.71) -> 3; q3: g3 (0.71) tied by g1 (0.71) -> 1
    assert retrieval.match_ranks(q, g).tolist() == [1, 2, 3, 1]
    hits = retrieval.recall_hits(q, g, ks=(1, 2, 3, 4))
    assert [hits[k].mean() for k in (1, 2, 3, 4)] == [0.0, 0.5, 0.75, 1.0]
    assert retrieval.chance_recall(4, 1) == 0.25 and retrieval.chance_recall(3, 5) == 1.0


@pytest.mark.parametrize("value", [0.0, 1.0, 0.37])
def test_collapsed_embedding_scores_zero_not_one(value):
    n = 500
    x = np.full((n, 24), value, dtype=np.float32)
    r = retrieval.recall_at_k(x, x, (1, 5, 10))
    assert all(v == 0.0 for v in r.values())  # below chance K/n, never 1
    assert all(r[k] < retrieval.chance_recall(n, k) for k in r)
    # near-collapse: float rounding noise far below the tie tolerance is still a tie
    if value:
        noisy = x + np.random.default_rng(0).normal(0, 1e-8, x.shape).astype(np.float32)
        assert retrieval.recall_at_k(noisy, noisy, (5,))[5] == 0.0


def test_identity_is_perfect_and_match_counted_once_across_chunks():
    x = np.random.default_rng(1).normal(size=(300, 8))
    assert retrieval.match_ranks(x, 3.0 * x, chunk=7).tolist() == [0] * 300
    y = x + np.random.default_rng(2).normal(0, 2.0, x.shape)
    assert np.array_equal(retrieval.match_ranks(x, y, chunk=7), retrieval.match_ranks(x, y))


def test_training_and_evaluation_paths_give_identical_numbers():
    rng = np.random.default_rng(3)
    morph = rng.normal(size=(400, 16))
    micro = morph + rng.normal(0, 1.5, morph.shape)
    ks = (1, 5, 10)
    hits = retrieval.recall_hits(morph, micro, ks)
    assert train_probes.recall_at_k(morph, micro, ks) == {k: float(h.mean()) for k, h in hits.items()}
    assert train_probes.knn_predict is probes.knn_predict  # one kNN classifier
    labels = rng.choice(["a", "b", "c"], 400)
    tr, te = np.arange(300), np.arange(300, 400)
    assert np.array_equal(train_probes.knn_predict(morph[tr], labels[tr], morph[te], 15),
                          probes.knn_predict(morph[tr], labels[tr], morph[te], 15, chunk=13))


def test_knn_partition_path_agrees_with_sklearn():
    from sklearn.neighbors import KNeighborsClassifier

    rng = np.random.default_rng(4)
    X = rng.normal(size=(5000, 6))
    y = np.where(X[:, 0] + rng.normal(0, 0.5, 5000) > 0, "p", "n")
    for n_train in (4500, 3000):  # > 4096 training rows: top k by partition first; else a full stable sort
        ours = probes.knn_predict(X[:n_train], y[:n_train], X[4500:], 9)
        ref = KNeighborsClassifier(9, metric="cosine", algorithm="brute").fit(X[:n_train], y[:n_train]).predict(X[4500:])
        assert np.array_equal(ours, ref)  # two classes, odd k: no vote ties, so plain majority agrees
