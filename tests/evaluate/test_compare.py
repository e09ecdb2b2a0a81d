"""Paired verdicts: reference - control from the same bootstrap resamples."""

import numpy as np
import pytest

from madcell.errors import InputError
from madcell.evaluate import evaluate_anndata, write_metrics
from madcell.evaluate.compare import difference_samples, format_verdicts, is_headline, verdict_table
from madcell.evaluate.synthetic import make_embedding_anndata

FAST = {"evaluate": {"bootstrap": 80, "seeds": [0], "n_folds": 3, "neighbors_method": "gauss", "mlp_probe": False}}


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    root = tmp_path_factory.mktemp("cmp")
    good = make_embedding_anndata(n=300, n_genes=0)
    noise = good.copy()
    rng = np.random.default_rng(1)
    for k in ("X_planted", "X_planted_morph", "X_planted_micro"):
        noise.obsm[k] = rng.normal(size=noise.obsm[k].shape).astype(np.float32)
    for name, a in (("good", good), ("good_again", good.copy()), ("noise", noise)):
        write_metrics(evaluate_anndata(a, ["cell_type"], "none", FAST), root / name)
    write_metrics(evaluate_anndata(good[:250].copy(), ["cell_type"], "none", FAST), root / "fewer")
    return root


def test_better_embedding_wins_identical_ties(scored):
    d = difference_samples(scored / "good", scored / "noise")
    assert set(d) == {"labels.cell_type.knn.accuracy", "labels.cell_type.linear.accuracy", "retrieval.recall@5"}
    same = difference_samples(scored / "good", scored / "good_again")
    t = verdict_table([{"noise": d, "itself": same}])
    v = {(r.metric, r.control): r.verdict for r in t.itertuples()}
    assert v[("labels.cell_type.knn.accuracy", "noise")] == "wins"
    assert v[("retrieval.recall@5", "noise")] == "wins"
    assert v[("labels.cell_type.knn.accuracy", "itself")] == "ties"
    flipped = verdict_table([{"good": difference_samples(scored / "noise", scored / "good")}])
    assert set(flipped["verdict"]) == {"loses"}
    md = format_verdicts(t, "good")
    assert "wins +" in md and "| good − control | noise | itself |" in md


def test_negligible_consistent_difference_is_a_tie():
    sm = np.full(50, -2e-5)
    t = verdict_table([{"c": {"genes.pearson": (-2e-5, sm)}}])
    assert t["verdict"].tolist() == ["ties"]


def test_pooling_over_datasets_averages_differences(scored):
    d = difference_samples(scored / "good", scored / "noise")
    one = verdict_table([{"noise": d}])
    two = verdict_table([{"noise": d}, {"noise": d}])
    assert np.allclose(one["diff"], two["diff"]) and (two["n_datasets"] == 2).all()


def test_unpaired_inputs_are_refused(scored):
    with pytest.raises(InputError, match="other bootstrap resamples"):
        difference_samples(scored / "good", scored / "fewer")


def test_headline_metrics():
    assert is_headline("labels.subtype.within_cell_type.knn.accuracy")
    assert is_headline("labels.subtype.within_cell_type_selected.groups.macrophage.linear.accuracy")
    assert not is_headline("labels.subtype.within_cell_type.groups.tumour.linear.accuracy")
    assert is_headline("genes.pearson") and not is_headline("genes.mae") and not is_headline("retrieval.recall@1")
