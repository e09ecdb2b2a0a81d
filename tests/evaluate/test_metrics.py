"""Metric functions against hand-computed values and scikit-learn."""

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score, balanced_accuracy_score, normalized_mutual_info_score

from madcell.evaluate import clustering, probes, retrieval
from madcell.evaluate.bootstrap import bootstrap_mean_ci, bootstrap_weights, summarise, weighted_pearson
from madcell.evaluate.heterogeneity import patch_heterogeneity, patch_matrix, quantile_bins


def test_purity_hand_example():
    classes = np.array(["a", "a", "a", "b", "b", "c", "c", "c"])
    clusters = np.array([0, 0, 1, 1, 1, 2, 2, 0])
    # cluster 0 = {a,a,c} -> 2, cluster 1 = {a,b,b} -> 2, cluster 2 = {c,c} -> 2  => 6/8
    assert clustering.purity(classes, clusters) == pytest.approx(0.75)


def test_ari_nmi_match_sklearn_including_weights():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 4, 200)
    b = np.where(rng.random(200) < 0.7, a, rng.integers(0, 6, 200))
    s = clustering.clustering_scores(a, b, np.ones((1, 200)))
    assert s["ari"][0] == pytest.approx(adjusted_rand_score(a, b))
    assert s["nmi"][0] == pytest.approx(normalized_mutual_info_score(a, b))
    # integer weights == the resampled data set with repeated cells
    w = rng.integers(0, 3, 200)
    rep = np.repeat(np.arange(200), w)
    s = clustering.clustering_scores(a, b, w[None].astype(float))
    assert s["ari"][0] == pytest.approx(adjusted_rand_score(a[rep], b[rep]))
    assert s["nmi"][0] == pytest.approx(normalized_mutual_info_score(a[rep], b[rep]))
    same = clustering.clustering_scores(a, a, np.ones((1, 200)))
    assert same["ari"][0] == pytest.approx(1.0) and same["nmi"][0] == pytest.approx(1.0)


def test_balanced_accuracy_matches_sklearn():
    rng = np.random.default_rng(1)
    y = rng.choice(["x", "y", "z"], 300, p=[0.7, 0.2, 0.1])
    pred = np.where(rng.random(300) < 0.8, y, "x")
    fn = probes.balanced_accuracy_fn(y, pred == y)
    assert fn(np.ones((1, 300)))[0] == pytest.approx(balanced_accuracy_score(y, pred))
    assert probes.accuracy_fn(pred == y)(np.ones((1, 300)))[0] == pytest.approx((pred == y).mean())


def test_weighted_pearson_equals_repeated_corrcoef():
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(50, 3)), rng.normal(size=(50, 3))
    w = rng.integers(0, 4, 50)
    rep = np.repeat(np.arange(50), w)
    r = weighted_pearson(x, y, w[None].astype(float))[0]
    for j in range(3):
        assert r[j] == pytest.approx(np.corrcoef(x[rep, j], y[rep, j])[0, 1])
    assert np.isnan(weighted_pearson(np.ones(5), np.arange(5.0), np.ones((1, 5)))[0, 0])


def test_bootstrap_ci_covers_truth_on_a_mean():
    rng = np.random.default_rng(3)
    covered = 0
    for rep in range(150):
        v = rng.normal(loc=2.0, scale=1.0, size=80)
        ci = bootstrap_mean_ci(v, n_boot=300, seed=rep)
        assert ci["lo"] <= ci["mean"] <= ci["hi"]
        covered += ci["lo"] <= 2.0 <= ci["hi"]
    assert 0.87 <= covered / 150 <= 0.99


def test_bootstrap_weights_are_stratified_counts():
    strata = np.array([0] * 30 + [1] * 10)
    W = bootstrap_weights(40, 50, seed=0, strata=strata)
    assert W.shape == (50, 40)
    np.testing.assert_array_equal(W[:, :30].sum(1), 30)
    np.testing.assert_array_equal(W[:, 30:].sum(1), 10)


def test_summarise_bias_corrected_interval_contains_estimate():
    samples = np.random.default_rng(4).normal(0.9, 0.01, 2000)  # resamples biased below the estimate
    plain = np.quantile(samples, [0.025, 0.975])
    s = summarise(0.91, samples)  # BC shifts the interval up towards the estimate
    assert s["lo"] > plain[0] + 0.005 and s["hi"] > plain[1] and s["lo"] <= 0.91 <= s["hi"]
    s = summarise(0.95, samples)  # far outside every resample: widened to include it
    assert s["lo"] <= 0.95 == s["hi"]
    s = summarise(0.9, samples)  # unbiased: the ordinary percentile interval
    assert s["lo"] == pytest.approx(plain[0], abs=2e-3) and s["hi"] == pytest.approx(plain[1], abs=2e-3)
    v = summarise(np.array([0.9, np.nan]), np.stack([samples, samples], 1))
    assert v["lo"][0] < 0.9 < v["hi"][0] and np.isnan(v["mean"][1])


def test_patch_heterogeneity_by_hand():
    xy = np.array([[0.0, 0.0], [1.0, 0.0], [100.0, 0.0], [101.0, 0.0]])
    expr = np.array([[0.0, 1.0], [2.0, 1.0], [5.0, 5.0], [5.0, 5.0]])
    A = patch_matrix(xy, np.zeros(4), half_side=np.full(4, 5.0))
    h = patch_heterogeneity(expr, A)
    # patch {0,1}: var gene0 = 1, gene1 = 0 -> 1 ; patch {2,3}: identical cells -> 0
    np.testing.assert_allclose(h, [1.0, 1.0, 0.0, 0.0], atol=1e-12)
    A = patch_matrix(xy, np.zeros(4), None, k=2)  # kNN fallback gives the same patches here
    np.testing.assert_allclose(patch_heterogeneity(expr, A), [1.0, 1.0, 0.0, 0.0], atol=1e-12)
    bins, edges = quantile_bins(np.arange(8.0), 4)
    assert bins.tolist() == [0, 0, 1, 1, 2, 2, 3, 3] and len(edges) == 5
