from __future__ import annotations

import pickle

import numpy as np
import pytest
import tifffile

from madcell.errors import InputError
from madcell.io.images import open_image, open_labels
from madcell.io.tiff import TiffImage


@pytest.fixture()
def tiled(tmp_path):
    arr = np.random.default_rng(1).integers(0, 65535, size=(2, 100, 130), dtype=np.uint16)
    path = tmp_path / "img.ome.tif"
    tifffile.imwrite(path, arr, tile=(32, 32), metadata={"axes": "CYX", "PhysicalSizeX": 650, "PhysicalSizeXUnit": "nm",
                                                         "Channel": {"Name": ["DAPI", "CD45"]}})
    return path, arr


def test_window_equals_full_slice(tiled):
    path, arr = tiled
    image, px = open_image(path)
    assert isinstance(image, TiffImage) and image.shape == (2, 100, 130) and image.dtype == np.uint16
    assert px == pytest.approx(0.65) and image.channel_names == ["DAPI", "CD45"]
    for y0, y1, x0, x1 in [(0, 100, 0, 130), (5, 37, 33, 97), (64, 65, 127, 130)]:
        assert np.array_equal(image.read(y0, y1, x0, x1), arr[:, y0:y1, x0:x1])


def test_window_past_edge_is_zero_filled(tiled):
    path, arr = tiled
    image, _ = open_image(path)
    win = image.read(-10, 20, 120, 150)
    assert win.shape == (2, 30, 30)
    assert np.array_equal(win[:, 10:, :10], arr[:, :20, 120:])
    assert not win[:, :10].any() and not win[:, :, 10:].any()
    assert not image.read(200, 210, 200, 210).any()


def test_reads_only_touched_tiles(tiled, monkeypatch):
    from tifffile.zarr import ZarrTiffStore

    path, _ = tiled
    keys = []
    orig = ZarrTiffStore.get

    async def spy(self, key, *args, **kwargs):
        if not key.endswith((".json", ".zarray", ".zattrs", ".zgroup")):
            keys.append(key)
        return await orig(self, key, *args, **kwargs)

    monkeypatch.setattr(ZarrTiffStore, "get", spy)
    image, _ = open_image(path)
    image.read(40, 50, 40, 50)  # inside tile (1, 1) of a 4 x 5 tile grid
    assert len(keys) == 2, keys  # that one tile per channel, never the whole slide


def test_channel_selection_and_pickle(tiled):
    path, arr = tiled
    image, _ = open_image(path, channels=["CD45"])
    clone = pickle.loads(pickle.dumps(image))
    assert clone.channel_names == ["CD45"] and np.array_equal(clone.read(0, 10, 0, 10), arr[1:, :10, :10])
    with pytest.raises(InputError, match=r"img.ome.tif: channel\(s\) \['CD3'\] not in the image"):
        open_image(path, channels=["CD3"])


def test_rgb_and_planar_tiff(tmp_path):
    rgb = np.random.default_rng(2).integers(0, 255, size=(20, 30, 3), dtype=np.uint8)
    tifffile.imwrite(tmp_path / "rgb.tif", rgb, photometric="rgb")
    image, px = open_image(tmp_path / "rgb.tif")
    assert px is None and image.shape == (3, 20, 30) and image.channel_names == ["R", "G", "B"]
    assert np.array_equal(image.read(0, 20, 0, 30), np.moveaxis(rgb, -1, 0))


def test_truncated_tiff(tiled, tmp_path):
    path, _ = tiled
    data = path.read_bytes()
    cut = tmp_path / "cut.ome.tif"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="cut.ome.tif: .*(truncated|cannot read TIFF)"):
        open_image(cut)


def test_truncated_jpeg(tmp_path):
    from PIL import Image

    Image.fromarray(np.random.default_rng(3).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(tmp_path / "a.jpg")
    data = (tmp_path / "a.jpg").read_bytes()
    (tmp_path / "b.jpg").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="b.jpg: cannot read image"):
        open_image(tmp_path / "b.jpg")


def test_float_mask_is_cast_and_channel_mask_rejected(tmp_path):
    mask = np.zeros((10, 12), np.float32)
    mask[2:5, 3:7] = 7.0
    tifffile.imwrite(tmp_path / "m.tif", mask)
    labels = open_labels(tmp_path / "m.tif")
    win = labels.read(0, 10, 0, 12)
    assert win.dtype == np.int32 and set(np.unique(win)) == {0, 7}
    tifffile.imwrite(tmp_path / "m3.tif", np.zeros((3, 10, 12), np.uint16), photometric="minisblack",
                     metadata={"axes": "CYX"})
    with pytest.raises(InputError, match="m3.tif: label mask has a channel axis"):
        open_labels(tmp_path / "m3.tif")
    np.save(tmp_path / "m3.npy", np.zeros((2, 10, 12), np.int32))
    with pytest.raises(InputError, match="m3.npy: label mask must be one"):
        open_labels(tmp_path / "m3.npy")


def test_imagej_pixel_size_and_plain_channel_names(tmp_path):
    arr = np.zeros((4, 10, 12), np.uint16)
    tifffile.imwrite(tmp_path / "ij.tif", arr, imagej=True, resolution=(1 / 0.25, 1 / 0.25),
                     metadata={"axes": "CYX", "unit": "um"})
    image, px = open_image(tmp_path / "ij.tif")
    assert px == pytest.approx(0.25) and image.shape == (4, 10, 12)
    assert image.channel_names == ["ch0", "ch1", "ch2", "ch3"]
