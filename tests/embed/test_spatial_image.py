"""Placing a slide thumbnail under ``obsm['spatial']`` (``madcell.embed.spatial_image``)."""

from __future__ import annotations

import numpy as np
import pytest

from madcell.embed.spatial_image import blank, fit_frame, place

T, PX = 4, 0.5  # slide px per thumbnail px, µm per slide px


def _thumb(h=40, w=50):
    """A thumbnail whose red channel is 4 x its column and green 4 x its row (so positions can be read back)."""
    img = np.zeros((h, w, 3), np.uint8)
    img[..., 0] = 4 * np.arange(w)[None, :]
    img[..., 1] = 4 * np.arange(h)[:, None]
    return img


def _drawn_at(canvas, scalef, a, x_px, y_px):
    """The canvas pixel imshow draws under the cell at slide pixel (x_px, y_px)."""
    c = (a + PX * np.array([x_px, y_px])) * scalef
    return canvas[int(np.rint(c[1])), int(np.rint(c[0]))]


@pytest.mark.parametrize("a", [(30.0, 12.0), (0.0, 0.0), (-30.0, -12.0)])  # padded, as is, cropped
def test_place_puts_each_block_under_its_cells(a):
    a = np.array(a)
    canvas, scalef = place(_thumb(), 1.0 / T, PX, a)
    assert scalef == pytest.approx(1.0 / T / PX) and canvas.dtype == np.uint8
    for j, i in [(3, 5), (20, 30), (49, 39)]:  # slide px in the middle of thumbnail block (row i, column j)
        x_px, y_px = j * T + 1.5, i * T + 1.5
        if (a + PX * np.array([x_px, y_px]) < 0).any():
            continue
        r, g, _ = _drawn_at(canvas, scalef, a, x_px, y_px)
        assert (r, g) == (4 * j, 4 * i)
    if a[0] > 0:  # padding is black
        assert (canvas[:, :int(a[0] * scalef) - 1] == 0).all()


def test_place_shrinks_a_canvas_padded_past_2000_px():
    a = np.array([4000.0, 0.0])  # a stage-frame origin far from the slide: 2000 px of padding
    canvas, scalef = place(_thumb(), 1.0 / T, PX, a)
    assert scalef == pytest.approx(1.0 / T / PX / 2) and max(canvas.shape[:2]) <= 2000
    for j in (4, 25, 47):
        r, _, _ = _drawn_at(canvas, scalef, a, j * T + 1.5, 5 * T + 1.5)
        assert abs(int(r) - 4 * j) <= 8  # within one shrunk pixel (two thumbnail columns) of the right place


def test_shrunk_edges_are_means_of_their_own_pixels():
    flat = np.full((40, 51, 3), 200, np.uint8)  # 2000 px of padding + 51: the last shrunk column holds one pixel
    canvas, _ = place(flat, 1.0 / T, PX, np.array([4000.0, 0.0]))
    assert canvas.shape[:2] == (20, 1026) and (canvas[:, -25:] == 200).all() and (canvas[:, :999] == 0).all()


def test_place_off_the_image():
    assert place(_thumb(), 1.0 / T, PX, np.array([-1e5, 0.0])) is None


def test_fit_frame():
    rng = np.random.default_rng(0)
    xy = rng.random((50, 2)) * 300
    s, a, res = fit_frame(xy, 7.0 + PX * xy, None)
    assert s == pytest.approx(PX) and np.allclose(a, 7.0) and res < 1e-9
    flipped = np.stack([PX * xy[:, 0], -PX * xy[:, 1]], 1)  # a y-up frame (CosMx)
    for frame in (flipped, flipped[:, ::-1]):  # no scale, or far more than half a thumbnail pixel off: no image
        fit = fit_frame(xy, frame, PX)
        assert fit is None or fit[2] > 10 * PX
    assert fit_frame(xy[:1], 3 + PX * xy[:1], PX)[0] == PX  # one cell: the known pixel size
    assert fit_frame(xy[:1], xy[:1], None) is None
    assert fit_frame(xy, np.full_like(xy, np.nan), PX) is None


def test_blank():
    img, scalef = blank(np.array([[10.0, 20.0], [1000.0, 500.0]]))
    assert img.dtype == np.uint8 and (img == 255).all() and max(img.shape[:2]) <= 257
    assert img.shape[1] * 1.0 >= 1000 * scalef and img.shape[0] >= 500 * scalef
    img, scalef = blank(np.array([[-5.0, -3.0]]))
    assert img.shape == (1, 1, 3) and scalef > 0
