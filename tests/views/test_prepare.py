import json

import h5py
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy import ndimage

from madcell import __version__
from madcell.data.store import ViewStore
from madcell.views import prepare_slides
from madcell.views.normalize import compute_norm

from views_toy import make_toy_slide

CFG = {"morph_size": 28, "micro_size": 56, "k_neighbors": 8, "tile_size": 96, "stats_sample_pixels": 20000}


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    slide = make_toy_slide()
    path = prepare_slides([slide], tmp_path_factory.mktemp("p") / "views.h5", CFG, progress=False)
    return slide, ViewStore(path)


def test_store_contents_and_attrs(store):
    slide, vs = store
    assert vs.n_cells == slide.n_cells == 143
    assert vs.channel_names == ["dapi", "cd45", "panck"]
    assert (vs.morph_size, vs.micro_size) == (28, 56)
    assert sorted(vs.cell_ids) == sorted(slide.cells["cell_id"])
    obs = vs.obs
    table = slide.cells.set_index("cell_id").loc[obs.index]
    assert (obs["cell_type"] == table["cell_type"]).all()
    assert np.array_equal(obs["niche"].to_numpy(), table["niche"].to_numpy())
    assert np.allclose(obs[["x_px", "y_px"]].to_numpy(), table[["x_px", "y_px"]].to_numpy())
    assert np.allclose(obs["x_um"], table["x_px"] * 0.5)
    assert (obs["slide"] == "toy").all()
    expr = vs.expression()
    assert list(expr.obs_names) == list(vs.cell_ids)
    ref = slide.expression[list(vs.cell_ids)]
    assert np.array_equal(np.asarray(expr.X), np.asarray(ref.X))
    with h5py.File(vs.path) as h5:
        assert h5.attrs["madcell_version"] == __version__
        params = json.loads(h5.attrs["params"])
        assert params["morph_size"] == 28 and params["k_neighbors"] == 8 and params["clip_percentiles"] == [0.01, 99.99]
    info = vs.slides["toy"]
    assert info["pixel_size_um"] == 0.5 and info["shape"] == [3, 192, 224] and info["source"] == "/toy/toy"
    assert set(info["channels"]) == {"dapi", "cd45", "panck"}
    assert info["channels"]["dapi"]["hi"] > info["channels"]["dapi"]["lo"]


def test_morphology_view_is_the_cell_alone(store):
    slide, vs = store
    cells = slide.cells.set_index("cell_id")
    for i in range(0, vs.n_cells, 17):
        m = vs.read_morph(i)[0]
        assert m.max() > 0.3
        # the corners are outside the (disc) cell: exactly 0
        assert m[:, 0, 0].max() == 0 and m[:, -1, -1].max() == 0
        # tumour cells are bright in panck, immune cells in cd45
        ct = cells.loc[vs.cell_ids[i], "cell_type"]
        assert (m[2].mean() > m[1].mean()) == (ct == "tumour")
    # every pixel outside the cell's (nearest-resized) mask is 0, inside mostly not
    i = 40
    lab = int(cells.loc[vs.cell_ids[i], "label"])
    mask = slide.labels.data == lab
    rows, cols = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    r0, r1, c0, c1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
    side = int(np.ceil(max(r1 - r0, c1 - c0) * 1.3))
    y0, x0 = (r0 + r1 - side) // 2, (c0 + c1 - side) // 2
    crop = torch.from_numpy(mask[y0:y0 + side, x0:x0 + side].astype(np.float32))[None, None]
    small = F.interpolate(crop, size=(28, 28), mode="nearest-exact")[0, 0].numpy() > 0
    m = vs.read_morph(i)[0]
    assert m[:, ~small].max() == 0
    assert (m.sum(0)[small] > 0).mean() > 0.95
    assert np.isclose(vs.obs["morph_um_per_px"].iloc[i], side * 0.5 / 28)


def test_micro_view_centred_and_scaled(store):
    slide, vs = store
    obs = vs.obs
    S = vs.slides["toy"]["micro_side_px"]["median"]
    assert np.allclose(obs["micro_um_per_px"], S * 0.5 / 56)
    assert (obs["morph_um_per_px"] > 0).all()
    norm = compute_norm(slide, [0, 1, 2], dict(CFG, **{"flatfield": False, "clip_percentiles": [0.01, 99.99]}))
    img = slide.image.data.astype(np.float32)
    full = norm.apply(img.copy(), 0, 0, (192, 224))
    interior = np.flatnonzero(~obs["edge"].to_numpy())[:10]
    assert S < 56  # upsampling: bilinear sampling at exact positions is the reference
    j = (np.arange(56) + 0.5) * S / 56 - S / 2
    for i in interior:
        x, y = obs["x_px"].iloc[i], obs["y_px"].iloc[i]
        got = vs.read_micro(i)[0]
        err = {}
        for dy in (-1, 0, 1):  # shifts of one output pixel
            for dx in (-1, 0, 1):
                yy, xx = np.meshgrid(y + j + dy * S / 56, x + j + dx * S / 56, indexing="ij")
                want = np.stack([ndimage.map_coordinates(full[c], [yy, xx], order=1) for c in range(3)])
                err[dy, dx] = np.abs(got - want).mean()
        # centred on the centroid to within half an output pixel: no shifted window fits better
        assert min(err, key=err.get) == (0, 0) and err[0, 0] < 0.03
    # edge cells: the window reaches past the slide, the outside is zero
    edge = np.flatnonzero(obs["edge"].to_numpy())
    assert len(edge) > 0
    corner = int(np.argmin(obs["x_px"] + obs["y_px"]))
    assert obs["edge"].iloc[corner]
    assert vs.read_micro(corner)[0][:, :5, :5].max() == 0


def test_rerun_is_byte_identical_and_workers_agree(tmp_path):
    slide = make_toy_slide(seed=3)
    a = prepare_slides([slide], tmp_path / "a.h5", CFG, progress=False)
    b = prepare_slides([slide], tmp_path / "b.h5", CFG, progress=False)
    c = prepare_slides([slide], tmp_path / "c.h5", CFG, workers=2, progress=False)
    with h5py.File(a) as fa, h5py.File(b) as fb, h5py.File(c) as fc:
        names = []
        fa.visit(lambda n: names.append(n) if isinstance(fa[n], h5py.Dataset) else None)
        assert "morphology" in names and "obs/cell_type" in names and any(n.startswith("expression/") for n in names)
        for n in names:
            for other in (fb, fc):
                assert fa[n].dtype == other[n].dtype
                assert np.array_equal(fa[n][()], other[n][()]), n
        for key in ("params", "slides", "channel_names"):
            assert fa.attrs[key] == fb.attrs[key] == fc.attrs[key]
        # the compressed chunks themselves are the same bytes
        for i in range(0, len(fa["morphology"]), 29):
            assert fa["neighborhood"].id.read_direct_chunk((i, 0, 0, 0)) == fc["neighborhood"].id.read_direct_chunk((i, 0, 0, 0))


def test_float16_and_uncompressed_match_uint8(tmp_path):
    slide = make_toy_slide(seed=4, expression=False)
    a = ViewStore(prepare_slides([slide], tmp_path / "u8.h5", CFG, progress=False))
    b = ViewStore(prepare_slides([slide], tmp_path / "f16.h5", dict(CFG, dtype="float16", compression="none"), progress=False))
    assert a.dtype == np.uint8 and b.dtype == np.float16
    assert a.expression() is None
    assert np.abs(a.read_micro(slice(0, 20)) - b.read_micro(slice(0, 20))).max() <= 0.5 / 255 + 1e-3
    assert np.abs(a.read_morph(slice(0, 20)) - b.read_morph(slice(0, 20))).max() <= 0.5 / 255 + 1e-3


def test_per_cell_scale(tmp_path):
    slide = make_toy_slide(seed=5)
    vs = ViewStore(prepare_slides([slide], tmp_path / "pc.h5", dict(CFG, micro_scale="per_cell"), progress=False))
    um = vs.obs["micro_um_per_px"].to_numpy()
    assert um.std() > 0  # each cell its own window
    assert vs.read_micro(slice(0, 5)).shape == (5, 3, 56, 56)


def test_several_slides_colliding_ids_and_selected_channels(tmp_path):
    a = make_toy_slide(seed=6, slide_id="s", expression=True)
    b = make_toy_slide(seed=7, slide_id="s", width=160, expression=True)
    vs = ViewStore(prepare_slides([a, b], tmp_path / "two.h5", dict(CFG, channels=["panck", "dapi"]), progress=False))
    assert vs.n_cells == a.n_cells + b.n_cells
    assert vs.channel_names == ["panck", "dapi"]
    obs = vs.obs
    assert set(obs["slide"]) == {"s", "s-2"}
    assert obs.index.is_unique and all(i.startswith(("s:", "s-2:")) for i in obs.index)
    assert list(obs["slide"]) == sorted(obs["slide"], key=["s", "s-2"].index)  # slide after slide
    assert set(vs.slides) == {"s", "s-2"} and vs.slides["s-2"]["shape"] == [3, 192, 160]
    assert list(vs.expression().obs_names) == list(vs.cell_ids)
    # panck is channel 0 now: tumour cells bright in it
    tum = np.flatnonzero((obs["cell_type"] == "tumour").to_numpy())[:5]
    imm = np.flatnonzero((obs["cell_type"] == "immune").to_numpy())[:5]
    assert vs.read_morph(tum)[:, 0].mean() > 2 * vs.read_morph(imm)[:, 0].mean()


def test_unique_ids_stay_unprefixed(tmp_path):
    a = make_toy_slide(seed=8, slide_id="a", expression=False)
    b = make_toy_slide(seed=9, slide_id="b", expression=False)
    b.cells["cell_id"] = "b" + b.cells["cell_id"]
    vs = ViewStore(prepare_slides([a, b], tmp_path / "ab.h5", CFG, progress=False))
    assert set(vs.cell_ids) == set(a.cells["cell_id"]) | set(b.cells["cell_id"])


def test_forked_workers_reopen_reader_handles(tmp_path):
    """Sources that opened a file in the parent must not share that handle with forked workers."""
    from madcell.views.pipeline import _drop_handles

    class Handle:
        pass

    class LazySource:
        def __init__(self):
            self.inner = {"x": 1}
            self._fh = Handle()

        def __getstate__(self):
            return dict(self.__dict__, _fh=None)

    class Holder:
        def __init__(self):
            self.array = np.zeros(3)
            self.src = LazySource()

    h = Holder()
    _drop_handles(h)
    assert h.src._fh is None and h.src.inner == {"x": 1} and h.array.shape == (3,)


def test_in_process_prepare_leaves_the_thread_count_alone(tmp_path):
    # prepare runs single-threaded inside a scope; training later in the same process (the demo, the
    # benchmarks) must still get every thread (a leaked set_num_threads(1) once halved its speed)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        prepare_slides([make_toy_slide(seed=5, expression=False)], tmp_path / "t.h5", CFG, progress=False)
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
