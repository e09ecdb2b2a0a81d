"""`embed_store` / `madcell embed`: the AnnData form, resumable chunks, atomic output."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from madcell.cli import app
from madcell.config import load_config
from madcell.data.store import ViewStore, create_store
from madcell.embed import embed_store
from madcell.errors import InputError
from madcell.models import Encoder, export_teacher
from madcell.models.multiview import build_multiview

TINY = {"model": {"arch": "custom", "embed_dim": 32, "depth": 1, "num_heads": 2, "layer_scale": None},
        "head": {"n_layers": 2, "hidden_dim": 32, "bottleneck_dim": 16, "out_dim": 64},
        "augment": {"morph_size": 28, "micro_size": 56}}
N = 23


@pytest.fixture
def store(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "views.h5"
    with create_store(path, N, ["a", "b"], 28, 56, obs_columns={"cell_type": "str"}) as w:
        w.write(0, rng.integers(0, 255, (N, 2, 28, 28), dtype=np.uint8), rng.integers(0, 255, (N, 2, 56, 56), dtype=np.uint8),
                [f"cell{i}" for i in range(N)], ["s1"] * N, rng.random((N, 2)) * 100, rng.random((N, 2)) * 50,
                np.full(N, 0.5), np.full(N, 1.0), np.zeros(N, bool), {"cell_type": np.array(["x", "y"] * 11 + ["x"])})
    return path


def _encoder():
    return Encoder.untrained(load_config(None, TINY), 2, ["a", "b"], seed=0)


def test_anndata_form(store, tmp_path):
    out = tmp_path / "emb.h5ad"
    embed_store(store, _encoder(), out, batch_size=5, chunk_cells=8, progress=False)
    a = ad.read_h5ad(out)
    assert a.n_obs == N and list(a.obs_names) == [f"cell{i}" for i in range(N)]
    assert a.obsm["X_mad"].shape == (N, 64)
    np.testing.assert_array_equal(a.obsm["X_mad"], np.concatenate([a.obsm["X_mad_morph"], a.obsm["X_mad_micro"]], 1))
    with ViewStore(store) as vs:
        np.testing.assert_allclose(a.obsm["spatial"], vs.obs[["x_um", "y_um"]].to_numpy())  # µm, not px
    assert a.uns["madcell"]["embedding_key"] == "X_mad" and a.uns["madcell"]["micro_size"] == 56
    assert set(a.obs["cell_type"]) == {"x", "y"} and "slide" in a.obs
    assert not (tmp_path / "emb.h5ad.parts").exists()


def test_resume_reuses_finished_chunks(store, tmp_path):
    out = tmp_path / "emb.h5ad"
    full = embed_store(store, _encoder(), tmp_path / "ref.h5ad", chunk_cells=8, progress=False).obsm["X_mad"]

    class Failing:
        """Encodes the first chunk, then dies (a killed run)."""

        def __init__(self):
            self.enc, self.calls = _encoder(), 0

        def to(self, device):
            self.enc.to(device)
            return self

        def encode(self, morph, micro):
            self.calls += 1
            if self.calls > 1:
                raise KeyboardInterrupt
            return self.enc.encode(morph, micro)

    with pytest.raises(KeyboardInterrupt):
        embed_store(store, Failing(), out, batch_size=8, chunk_cells=8, progress=False)
    assert not out.exists() and len(list((tmp_path / "emb.h5ad.parts").glob("chunk_*.npz"))) == 1

    class Counting(Failing):
        def encode(self, morph, micro):
            self.calls += 1
            return self.enc.encode(morph, micro)

    enc = Counting()
    a = embed_store(store, enc, out, batch_size=8, chunk_cells=8, progress=False)
    assert enc.calls == 2  # chunks 2 and 3 only
    np.testing.assert_allclose(a.obsm["X_mad"], full, rtol=1e-5, atol=1e-5)


def test_cli_embed_from_exported_run(store, tmp_path):
    cfg = load_config(None, TINY)
    net = build_multiview(cfg, 2)
    export_teacher(net, cfg, ["a", "b"], tmp_path / "run" / "export")
    res = CliRunner().invoke(app, ["embed", str(store), "--run", str(tmp_path / "run"), "--out", str(tmp_path / "e.h5ad")])
    assert res.exit_code == 0, res.output
    assert ad.read_h5ad(tmp_path / "e.h5ad").obsm["X_mad"].shape == (N, 64)
    bad = CliRunner().invoke(app, ["embed", str(store), "--run", str(tmp_path / "nope"), "--out", str(tmp_path / "f.h5ad")])
    assert bad.exit_code == 2 and "nope" in bad.output and not (tmp_path / "f.h5ad").exists()


def test_resume_with_another_model_is_refused(store, tmp_path):
    out = tmp_path / "emb.h5ad"
    first = _encoder()

    class Dies(torch.nn.Module):
        """The first model: encodes one chunk, then the run is killed."""

        def __init__(self, enc, limit=1):
            super().__init__()
            self.enc, self.calls, self.limit = enc, 0, limit

        def encode(self, morph, micro):
            self.calls += 1
            if self.calls > self.limit:
                raise KeyboardInterrupt
            return self.enc.encode(morph, micro)

    with pytest.raises(KeyboardInterrupt):
        embed_store(store, Dies(first), out, batch_size=8, chunk_cells=8, progress=False)
    other = Encoder.untrained(load_config(None, TINY), 2, ["a", "b"], seed=1)  # another model
    with pytest.raises(InputError, match="another model"):
        embed_store(store, Dies(other, limit=99), out, batch_size=8, chunk_cells=8, progress=False)
    assert not out.exists() and len(list((tmp_path / "emb.h5ad.parts").glob("chunk_*.npz"))) == 1
    resumed = Dies(first, limit=99)
    a = embed_store(store, resumed, out, batch_size=8, chunk_cells=8, progress=False)  # the same model resumes
    assert resumed.calls == 2  # chunks 2 and 3 only
    ref = embed_store(store, first, tmp_path / "ref.h5ad", chunk_cells=8, progress=False)
    np.testing.assert_allclose(a.obsm["X_mad"], ref.obsm["X_mad"], rtol=1e-5, atol=1e-5)


def test_nan_pixels_are_an_input_error_and_nothing_is_written(tmp_path):
    rng = np.random.default_rng(0)
    path = tmp_path / "f16.h5"
    morph = rng.random((N, 2, 28, 28)).astype(np.float16)
    morph[4, 0, 3, 3] = np.nan  # one bad pixel of cell4
    with create_store(path, N, ["a", "b"], 28, 56, dtype="float16") as w:
        w.write(0, morph, rng.random((N, 2, 56, 56)).astype(np.float16), [f"cell{i}" for i in range(N)], ["s1"] * N,
                rng.random((N, 2)) * 100, rng.random((N, 2)) * 50, np.full(N, 0.5), np.full(N, 1.0), np.zeros(N, bool))
    out = tmp_path / "emb.h5ad"
    with pytest.raises(InputError, match=r"1 cell\(s\) have NaN/Inf pixels.*cell4"):
        embed_store(path, _encoder(), out, chunk_cells=8, progress=False)
    assert not out.exists()


def test_cli_embed_labels_and_view_size_warning(store, tmp_path):
    cfg = load_config(None, TINY)
    export_teacher(build_multiview(cfg, 2), cfg, ["a", "b"], tmp_path / "run" / "export", store_sizes=(70, 224))
    ann = tmp_path / "ann.csv"
    ann.write_text("cell_id,my_type\ncell0,T\ncell1,B\nghost,T\n")
    with pytest.warns(UserWarning) as caught:
        res = CliRunner().invoke(app, ["embed", str(store), "--run", str(tmp_path / "run"), "--out",
                                       str(tmp_path / "e.h5ad"), "--labels", str(ann)])
    assert res.exit_code == 0, res.output
    messages = " ".join(str(w.message) for w in caught)
    assert "28/56 px" in messages and "70/224 px" in messages  # store cut at other sizes than the training store
    assert "1 of 3 annotated cell ids match no cell" in messages
    a = ad.read_h5ad(tmp_path / "e.h5ad")
    assert a.obs["my_type"].iloc[:2].tolist() == ["T", "B"] and a.obs["my_type"].iloc[2:].isna().all()
    assert a.uns["madcell"]["labels"]["matched"] == 2 and "my_type for 2 of 23 cells" in res.output
    # a bad table fails before any cell is embedded, and writes nothing
    bad = tmp_path / "bad.csv"
    bad.write_text("cell_id,my_type\ncell0,T\ncell0,B\n")
    res = CliRunner().invoke(app, ["embed", str(store), "--run", str(tmp_path / "run"), "--out",
                                   str(tmp_path / "f.h5ad"), "--labels", str(bad)])
    assert res.exit_code == 2 and "bad.csv" in res.output and "duplicated" in res.output
    assert not (tmp_path / "f.h5ad").exists() and not (tmp_path / "f.h5ad.parts").exists()


def test_same_view_sizes_do_not_warn(store, tmp_path):
    import warnings

    cfg = load_config(None, TINY)
    export_teacher(build_multiview(cfg, 2), cfg, ["a", "b"], tmp_path / "x", store_sizes=(28, 56))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        embed_store(store, Encoder.load(tmp_path / "x"), tmp_path / "e.h5ad", progress=False)


@pytest.mark.parametrize("extra, problem", [
    (["--batch-size", "0"], "--batch-size: must be at least 1"),
    (["--chunk-cells", "-1"], "--chunk-cells: must be at least 1"),
    (["--precision", "fp8"], "--precision"),
])
def test_cli_embed_bad_options_are_one_line_errors(store, tmp_path, extra, problem):
    cfg = load_config(None, TINY)
    export_teacher(build_multiview(cfg, 2), cfg, ["a", "b"], tmp_path / "run" / "export")
    res = CliRunner().invoke(app, ["embed", str(store), "--run", str(tmp_path / "run"), "--out", str(tmp_path / "e.h5ad"), *extra])
    assert res.exit_code == 2 and problem in res.output and "Traceback" not in res.output
    assert not (tmp_path / "e.h5ad").exists() and not (tmp_path / "e.h5ad.parts").exists()


def test_cli_embed_cuda_without_gpu_and_corrupt_weights(store, tmp_path):
    cfg = load_config(None, TINY)
    export_teacher(build_multiview(cfg, 2), cfg, ["a", "b"], tmp_path / "run" / "export")
    if not torch.cuda.is_available():
        res = CliRunner().invoke(app, ["embed", str(store), "--run", str(tmp_path / "run"), "--out", str(tmp_path / "e.h5ad"),
                                       "--device", "cuda"])
        assert res.exit_code == 2 and "no usable CUDA GPU" in res.output
    (tmp_path / "run" / "export" / "teacher.safetensors").write_bytes(b"\x00garbage" * 10)
    res = CliRunner().invoke(app, ["embed", str(store), "--run", str(tmp_path / "run"), "--out", str(tmp_path / "e.h5ad")])
    assert res.exit_code == 2 and "exported teacher cannot be read" in res.output and "export" in res.output
    assert not (tmp_path / "e.h5ad").exists()


def test_sharded_embedding_with_two_processes_equals_one(store, tmp_path):
    """`torchrun --nproc_per_node 2 -m madcell.cli embed ...` (gloo on CPU): each rank embeds its share
    of the chunks, rank 0 merges; the .h5ad equals a single-process run's."""
    import os
    import subprocess
    import sys

    cfg = load_config(None, TINY)
    export_teacher(build_multiview(cfg, 2), cfg, ["a", "b"], tmp_path / "run" / "export")
    single = tmp_path / "one.h5ad"
    embed_store(store, Encoder.load(tmp_path / "run"), single, chunk_cells=5, progress=False)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "madcell.cli",
           "embed", str(store), "--model", str(tmp_path / "run"), "--out", str(tmp_path / "two.h5ad"), "--chunk-cells", "5"]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-3000:]
    a, b = ad.read_h5ad(single), ad.read_h5ad(tmp_path / "two.h5ad")
    assert list(a.obs_names) == list(b.obs_names)
    np.testing.assert_allclose(b.obsm["X_mad"], a.obsm["X_mad"], atol=1e-5)
    assert not (tmp_path / "two.h5ad.parts").exists()
