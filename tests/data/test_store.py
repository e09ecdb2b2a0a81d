import h5py
import numpy as np
import pandas as pd
import pytest
import torch

from madcell.data.dataset import ViewDataset
from madcell.data.store import ViewStore, create_store, encode_view, write_reference_layout
from madcell.errors import InputError


def make_store(path, n=12, C=2, m=14, M=28, dtype="uint8", compression="lzf", expression=True):
    rng = np.random.default_rng(0)
    morph = rng.integers(0, 256, (n, C, m, m)).astype(np.uint8)
    micro = rng.integers(0, 256, (n, C, M, M)).astype(np.uint8)
    if dtype == "float16":
        morph, micro = (morph / 255).astype(np.float16), (micro / 255).astype(np.float16)
    ids = [f"cell{i}" for i in range(n)]
    xy = rng.uniform(0, 100, (n, 2))
    with create_store(path, n, ["dapi", "cd45"][:C], m, M, dtype, {"cell_type": "str", "score": "float64"},
                      {"morph_size": m}, {"s0": {"pixel_size_um": 0.5}}, compression) as w:
        half = n // 2
        for a, b in ((0, half), (half, n)):
            w.write(a, morph[a:b], micro[a:b], ids[a:b], ["s0"] * (b - a), xy[a:b], xy[a:b] * 0.5,
                    np.full(b - a, 0.2), np.full(b - a, 0.4), np.arange(a, b) % 2 == 0,
                    {"cell_type": np.array(["t", "b"] * ((b - a) // 2)), "score": np.arange(a, b) / 10})
        if expression:
            import anndata as ad

            X = rng.poisson(1, (n, 3)).astype(np.float32)
            w.set_expression(ad.AnnData(X=X, obs=pd.DataFrame(index=ids), var=pd.DataFrame(index=["a", "b", "c"])))
    return morph, micro, ids, xy


@pytest.mark.parametrize("dtype,compression", [("uint8", "lzf"), ("float16", "none")])
def test_store_round_trip(tmp_path, dtype, compression):
    morph, micro, ids, xy = make_store(tmp_path / "s.h5", dtype=dtype, compression=compression)
    vs = ViewStore(tmp_path / "s.h5")
    assert len(vs) == 12 and vs.channel_names == ["dapi", "cd45"] and vs.dtype == np.dtype(dtype)
    assert (vs.morph_size, vs.micro_size, vs.n_channels) == (14, 28, 2)
    assert np.array_equal(vs.read_morph(slice(None), raw=True), morph)
    assert np.array_equal(vs.read_micro([5, 2, 5], raw=True), micro[[5, 2, 5]])
    scale = 255.0 if dtype == "uint8" else 1.0
    assert np.allclose(vs.read_morph(3), morph[3:4].astype(np.float32) / scale)
    assert list(vs.cell_ids) == ids
    obs = vs.obs
    assert list(obs["cell_type"][:4]) == ["t", "b", "t", "b"] and np.allclose(obs["score"], np.arange(12) / 10)
    assert np.allclose(obs[["x_px", "y_px"]], xy) and np.allclose(obs["x_um"], xy[:, 0] * 0.5)
    assert obs["edge"].tolist() == [i % 2 == 0 for i in range(12)]
    assert vs.params == {"morph_size": 14} and vs.slides == {"s0": {"pixel_size_um": 0.5}}
    assert list(vs.expression().obs_names) == ids
    assert vs.read_morph([]).shape == (0, 2, 14, 14)


def test_encoded_chunks_equal_normal_writes(tmp_path):
    morph, micro, ids, xy = make_store(tmp_path / "a.h5", expression=False)
    n = len(ids)
    with create_store(tmp_path / "b.h5", n, ["dapi", "cd45"], 14, 28) as w:
        w.write(0, None, None, ids, ["s0"] * n, xy, xy, np.zeros(n), np.zeros(n), np.zeros(n, bool))
        w.write_chunks("morphology", 0, [encode_view(v, "lzf") for v in morph])
        w.write_chunks("neighborhood", 0, [encode_view(v, "lzf") for v in micro])
    a, b = ViewStore(tmp_path / "a.h5"), ViewStore(tmp_path / "b.h5")
    assert np.array_equal(a.read_morph(slice(None), raw=True), b.read_morph(slice(None), raw=True))
    assert np.array_equal(a.read_micro(slice(None), raw=True), b.read_micro(slice(None), raw=True))
    flat = np.zeros((2, 28, 28), np.uint8)
    data, mask = encode_view(flat, "lzf")
    assert mask == 0 and len(data) < flat.nbytes
    noise = np.random.default_rng(1).integers(0, 256, (2, 28, 28)).astype(np.uint8)
    assert encode_view(noise, "lzf") == (noise.tobytes(), 1)  # incompressible: stored raw, filter skipped
    with pytest.raises(ValueError, match="past the end"):
        with create_store(tmp_path / "c.h5", 1, ["x"], 14, 28) as w:
            w.write_chunks("morphology", 1, [encode_view(np.zeros((1, 14, 14), np.uint8), None)])
    assert not (tmp_path / "c.h5").exists()


def test_reference_layout_round_trip(tmp_path):
    morph, micro, ids, xy = make_store(tmp_path / "s.h5")
    vs = ViewStore(tmp_path / "s.h5")
    write_reference_layout(vs, tmp_path / "ref.h5", chunk=5)
    with h5py.File(tmp_path / "ref.h5") as h5:
        assert h5["morphology"].shape == (12, 14, 14, 2) and h5["morphology"].dtype == np.uint8  # NHWC
        assert dict(h5.attrs) == {}
    ref = ViewStore(tmp_path / "ref.h5")
    assert ref.layout == "mad-reference" and ref.channels_last
    assert (ref.n_cells, ref.n_channels, ref.morph_size, ref.micro_size) == (12, 2, 14, 28)
    assert np.array_equal(ref.read_morph(slice(None), raw=True), morph)
    assert np.array_equal(ref.read_micro([7, 1], raw=True), micro[[7, 1]])
    assert list(ref.cell_ids) == ids
    assert np.allclose(ref.obs[["x_px", "y_px"]], xy) and (ref.obs["slide"] == "slide0").all()
    # and back: a reference file is a valid input of the exporter too
    write_reference_layout(ref, tmp_path / "ref2.h5")
    assert np.array_equal(ViewStore(tmp_path / "ref2.h5").read_micro(slice(None), raw=True), micro)


def test_view_dataset(tmp_path):
    morph, micro, ids, xy = make_store(tmp_path / "s.h5")
    ds = ViewDataset(str(tmp_path / "s.h5"), indices=[3, 8])
    assert len(ds) == 2
    item = ds[1]
    assert item["index"] == 8 and item["morph"].dtype == torch.float32
    assert torch.allclose(item["micro"], torch.from_numpy(micro[8].astype(np.float32) / 255))
    raw = ViewDataset(ViewStore(tmp_path / "s.h5"), raw=True)[0]
    assert raw["morph"].dtype == torch.uint8
    loader = torch.utils.data.DataLoader(ViewDataset(tmp_path / "s.h5"), batch_size=5, num_workers=2)
    batches = list(loader)
    assert [b["morph"].shape[0] for b in batches] == [5, 5, 2]
    assert torch.equal(torch.cat([b["index"] for b in batches]), torch.arange(12))


def test_bad_store_files(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        ViewStore(tmp_path / "none.h5")
    (tmp_path / "junk.h5").write_bytes(b"not hdf5")
    with pytest.raises(InputError, match="not a readable HDF5"):
        ViewStore(tmp_path / "junk.h5")
    with h5py.File(tmp_path / "part.h5", "w") as h5:
        h5["morphology"] = np.zeros((1, 2, 2, 1), np.uint8)
    with pytest.raises(InputError, match="'neighborhood' is missing"):
        ViewStore(tmp_path / "part.h5")
    with pytest.raises(InputError, match="uint8 or float16"):
        with create_store(tmp_path / "x.h5", 1, ["a"], 14, 28, dtype="int16"):
            pass
    with pytest.raises(InputError, match="lzf or none"):
        with create_store(tmp_path / "x.h5", 1, ["a"], 14, 28, compression="gzip"):
            pass


def test_view_sources_honour_the_contract(tmp_path):
    """The materialised store and the in-memory copy are both ViewSources and give the same views."""
    import numpy as np

    from madcell.data import InMemoryViews, ViewSource, open_views

    rng = np.random.default_rng(0)
    n = 9
    with create_store(tmp_path / "s.h5", n, ["a", "b"], 14, 28) as w:
        w.write(0, rng.integers(0, 255, (n, 2, 14, 14), dtype=np.uint8), rng.integers(0, 255, (n, 2, 28, 28), dtype=np.uint8),
                [f"c{i}" for i in range(n)], ["s"] * n, np.zeros((n, 2)), np.zeros((n, 2)), np.ones(n), np.ones(n),
                np.zeros(n, bool))
    store = open_views(tmp_path / "s.h5")
    mem = InMemoryViews(store, chunk=4)
    for src in (store, mem):
        assert isinstance(src, ViewSource) and len(src) == n and src.channel_names == ["a", "b"]
    idx = [3, 1, 3]
    np.testing.assert_array_equal(mem.read_morph(idx), store.read_morph(idx))
    np.testing.assert_array_equal(mem.read_micro(slice(2, 5), raw=True), store.read_micro(slice(2, 5), raw=True))
    assert mem.identity() == store.identity() and list(mem.obs.index) == list(store.obs.index)
    assert open_views(store) is store
