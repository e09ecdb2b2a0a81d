import json

import numpy as np
import pytest
from typer.testing import CliRunner

from madcell.embed.anndata_form import write_h5ad
from madcell.niche import run_niche
from madcell.niche import pipeline as pipeline_mod
from madcell.niche.teacher import NicheTeacher

from niche_toy import FAST, make_toy


def test_student_learns_planted_niches_and_beats_kmeans(tmp_path, monkeypatch):
    seen = []
    orig_fit = NicheTeacher.fit

    def spy(self, comp):
        seen.append(np.asarray(comp).copy())
        return orig_fit(self, comp)

    monkeypatch.setattr(NicheTeacher, "fit", spy)
    adata = make_toy(n_per_slide=500)
    cfg = {"niche": {**FAST, "cell_type_col": "cell_type", "student": "transformer", "max_epochs": 25}}
    adata, m = run_niche(adata, cfg, out_dir=tmp_path)

    held = adata.obs["niche_heldout"].to_numpy(dtype=bool)
    # the teacher saw training-region compositions only (one fit, no held-out rows)
    assert len(seen) == 1 and len(seen[0]) == (~held).sum()
    np.testing.assert_allclose(seen[0], adata.obsm["niche_composition"][~held], atol=1e-6)
    assert 0.15 < held.mean() < 0.4
    s, km = m["methods"]["student"], m["methods"]["kmeans"]
    assert s["ari"]["value"] > km["ari"]["value"] + 0.2
    assert s["ari"]["lo"] > km["ari"]["hi"]  # CIs separate
    assert s["composition_js"]["mean_js"] < km["composition_js"]["mean_js"]
    for name in ("student", "kmeans", "gmm", "nbr_gmm"):
        assert f"{name}_niche" in adata.obs
        for k in ("ari", "nmi", "ami"):
            r = m["methods"][name][k]
            assert -0.5 <= r["lo"] <= r["value"] <= r["hi"] <= 1.0
    p = adata.obsm["student_niche_proba"]
    assert p.shape == (adata.n_obs, m["k_niches"]) and np.allclose(p.sum(1), 1, atol=1e-5)
    for f in ("niche.h5ad", "niche_metrics.json", "niche_maps.png", "niche.md"):
        assert (tmp_path / f).stat().st_size > 0
    assert json.loads((tmp_path / "niche_metrics.json").read_text())["n_heldout"] == held.sum()
    assert "| student (distilled) |" in (tmp_path / "niche.md").read_text()
    assert not list(tmp_path.glob(".*partial*"))


def test_cli_derived_types_mlp_delaunay(tmp_path):
    from madcell.cli import app

    adata = make_toy(n_per_slide=300, seed=1)
    emb = tmp_path / "emb.h5ad"
    write_h5ad(adata, emb)
    out = tmp_path / "out"
    args = [
        "niche", str(emb), "--out", str(out), "--k-niches", "4", "--graph", "delaunay", "--student", "mlp",
        "--seed", "1", "--set", "max_epochs=10", "--set", "niche.bootstrap=50", "--set", "device=cpu",
        "--set", "k_auto=true", "--set", "k_auto_boot=1",
    ]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    m = json.loads((out / "niche_metrics.json").read_text())
    assert m["graph"]["method"] == "delaunay" and m["student"]["kind"] == "mlp"
    assert m["cell_types"]["source"].startswith("leiden")
    assert set(m["k_stability"]) == {"3", "4", "5"} and m["k_niches"] in (3, 4, 5)
    import anndata as ad

    back = ad.read_h5ad(out / "niche.h5ad")
    assert {"teacher_niche", "student_niche", "niche_cell_type", "niche_heldout"} <= set(back.obs)
    assert "teacher_niche_proba" in back.obsm and "X_toy" in back.obsm
    # the saved student, applied to the embedding alone (no expression), gives the run's own predictions
    from madcell.niche.persist import apply_student, load_student

    _, meta = load_student(out / "student")
    assert meta["graph"]["graph"] == "delaunay" and len(meta["niche_composition"]) >= 1
    fresh = ad.AnnData(obs=back.obs[["slide"]].copy(), obsm={"X_toy": back.obsm["X_toy"], "spatial": back.obsm["spatial"]},
                       uns={"madcell": dict(back.uns.get("madcell", {}))})
    apply_student(fresh, out / "student")
    np.testing.assert_allclose(fresh.obsm["student_niche_proba"], back.obsm["student_niche_proba"], atol=1e-5)
    assert (fresh.obs["student_niche"].astype(str) == back.obs["student_niche"].astype(str)).all()


def test_bad_inputs_are_input_errors(tmp_path):
    from madcell.cli import app
    from madcell.errors import InputError

    adata = make_toy(n_per_slide=100)
    with pytest.raises(InputError, match="cell_typo"):
        run_niche(adata.copy(), {"cell_type_col": "cell_typo"})
    no_expr = adata[:, :0].copy()
    with pytest.raises(InputError, match="no expression"):
        run_niche(no_expr, {"k_niches": 3})
    res = CliRunner().invoke(app, ["niche", str(tmp_path / "missing.h5ad"), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and "does not exist" in " ".join(res.output.split())
    write_h5ad(adata, tmp_path / "emb.h5ad")
    res = CliRunner().invoke(app, ["niche", str(tmp_path / "emb.h5ad"), "--out", str(tmp_path / "o"), "--k-niches", "0"])
    assert res.exit_code == 2 and "--k-niches: must be at least 2" in res.output and not (tmp_path / "o").exists()
    assert pipeline_mod.niche_config(None)["k_niches"] == 8
