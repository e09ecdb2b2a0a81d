"""Slide thumbnails (``madcell.views.thumbnail``): block means of the normalised slide, mixed to RGB."""

from __future__ import annotations

import numpy as np
import pytest

from madcell.views.normalize import ChannelNorm
from madcell.views.thumbnail import (COLOURS, HIRES_MAX, ThumbnailAccumulator, channel_colours, slide_thumbnail,
                                     thumbnail_factor)
from views_toy import make_toy_slide


def _reference(x: np.ndarray, t: int, colours: np.ndarray) -> np.ndarray:
    """Block means by brute force, then the colour mix, as uint8 (h, w, 3)."""
    C, H, W = x.shape
    out = np.zeros((-(-H // t), -(-W // t), 3))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            m = x[:, i * t:(i + 1) * t, j * t:(j + 1) * t].mean(axis=(1, 2))
            out[i, j] = m @ colours
    return np.rint(np.clip(out, 0, 1) * 255).astype(np.uint8)


@pytest.mark.parametrize("t_longest, windows", [
    (4, [(0, 7, 0, 11), (0, 7, 11, 23), (7, 20, 0, 23)]),  # windows not aligned to the blocks
    (20, [(0, 20, 0, 23)]),                                 # one window, t = 1: the slide itself
])
def test_accumulator_equals_block_means(t_longest, windows):
    rng = np.random.default_rng(0)
    x = rng.random((4, 20, 23)).astype(np.float32)
    acc = ThumbnailAccumulator((20, 23), ["a", "b", "c", "d"], longest=t_longest)
    for y0, y1, x0, x1 in windows:
        acc.add(x[:, y0:y1, x0:x1], y0, x0)
    t = acc.t
    assert t == thumbnail_factor(20, 23, t_longest) and acc.scale == 1.0 / t
    assert t == (6 if t_longest == 4 else 2)
    img = acc.image()
    assert img.dtype == np.uint8 and img.shape == (-(-20 // t), -(-23 // t), 3) and max(img.shape[:2]) <= t_longest
    ref = _reference(x, t, COLOURS[:4])
    assert np.abs(img.astype(int) - ref).max() <= 1  # partial last blocks are means of their own pixels


def test_channel_colours():
    np.testing.assert_array_equal(channel_colours(["R", "G", "B"]), np.eye(3))  # H&E stays RGB
    np.testing.assert_array_equal(channel_colours(["r", "g", "b"]), np.eye(3))
    np.testing.assert_array_equal(channel_colours(["dapi"]), np.ones((1, 3)))  # grey
    c = channel_colours([f"m{i}" for i in range(10)])  # fixed colours, cycled
    assert c.shape == (10, 3) and (c[8] == c[0]).all() and (c[0] != c[1]).any()
    assert thumbnail_factor(2000, 10) == 1 and thumbnail_factor(2001, 10) == 2 and thumbnail_factor(10, 9000) == 5
    assert HIRES_MAX == 2000


def test_slide_thumbnail_streams_the_normalised_slide():
    s = make_toy_slide(height=150, width=170)
    raw = s.image.data.astype(np.float64)
    lo, hi = np.array([100.0, 150.0, 200.0]), np.array([3000.0, 2500.0, 2000.0])
    acc = slide_thumbnail(s, [0, 1, 2], ["dapi", "cd45", "panck"], ChannelNorm(lo, hi), tile=64)
    norm = np.clip((raw - lo[:, None, None]) / (hi - lo)[:, None, None], 0, 1)
    np.testing.assert_allclose(acc.image().astype(int), _reference(norm, 1, COLOURS[:3]).astype(int), atol=1)
    # nuclei (DAPI) are brighter than the space between cells
    lab = s.labels.data
    img = acc.image().astype(float).sum(-1)
    assert img[lab > 0].mean() > 2 * img[lab == 0].mean()
