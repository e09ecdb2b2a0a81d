import numpy as np
from sklearn.metrics import adjusted_mutual_info_score, adjusted_rand_score, normalized_mutual_info_score

from madcell.niche.evaluate import (
    bootstrap_scores,
    composition_agreement,
    contingency,
    js_divergence,
    match_niches,
    scores_from_tables,
)


def test_table_scores_match_sklearn():
    rng = np.random.default_rng(0)
    for n in (30, 700):
        a = rng.integers(0, 6, n)
        b = np.where(rng.random(n) < 0.6, a, rng.integers(0, 5, n))
        s = scores_from_tables(contingency(a, b)[None])
        assert np.isclose(s["ari"][0], adjusted_rand_score(a, b))
        assert np.isclose(s["nmi"][0], normalized_mutual_info_score(a, b))
        assert np.isclose(s["ami"][0], adjusted_mutual_info_score(a, b))


def test_bootstrap_ci_brackets_value():
    rng = np.random.default_rng(1)
    a = rng.integers(0, 4, 500)
    b = np.where(rng.random(500) < 0.7, a, rng.integers(0, 4, 500))
    r = bootstrap_scores(a, b, n_boot=300, seed=0)
    for m in ("ari", "nmi", "ami"):
        assert r[m]["lo"] <= r[m]["value"] <= r[m]["hi"]
        assert r[m]["hi"] - r[m]["lo"] < 0.2
    perfect = bootstrap_scores(a, (a + 1) % 4, n_boot=50)  # relabelled: still perfect
    assert perfect["ari"]["lo"] == perfect["ari"]["hi"] == 1.0


def test_js_by_hand():
    p, q = np.array([1.0, 0.0]), np.array([0.5, 0.5])
    # m = [.75,.25]; KL(p||m) = log2(1/.75); KL(q||m) = .5 log2(.5/.75) + .5 log2(.5/.25)
    by_hand = 0.5 * np.log2(1 / 0.75) + 0.5 * (0.5 * np.log2(0.5 / 0.75) + 0.5 * np.log2(2.0))
    assert np.isclose(js_divergence(p, q), by_hand)
    assert np.isclose(js_divergence(p, p), 0.0)
    assert np.isclose(js_divergence(np.array([1.0, 0]), np.array([0, 1.0])), 1.0)  # disjoint: 1 bit


def test_hungarian_and_composition_agreement():
    ref = np.array([0, 0, 0, 1, 1, 1])
    pred = np.array([5, 5, 5, 7, 7, 7])
    assert match_niches(ref, pred) == {5: 0, 7: 1}
    onehot = np.eye(2)[[0, 0, 1, 1, 1, 1]]
    r = composition_agreement(ref, pred, onehot)
    assert np.isclose(r["mean_js"], 0.0)
    swapped = composition_agreement(ref, np.array([5, 5, 7, 7, 7, 7]), onehot)
    assert swapped["mean_js"] > 0
