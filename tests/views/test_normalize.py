import numpy as np

from madcell.config import default_config, merge
from madcell.io.base import ArrayImage
from madcell.views.normalize import compute_norm, sample_windows

from views_toy import make_toy_slide


def cfg(**kw):
    return merge(default_config()["prepare"], dict({"stats_sample_pixels": 20000}, **kw))


def test_sample_is_deterministic_and_inside_the_slide():
    a = sample_windows(3000, 2000, 500_000)
    assert a == sample_windows(3000, 2000, 500_000)
    assert len(a) == int(np.ceil(500_000 / 256**2))
    assert all(0 <= y0 < y1 <= 3000 and 0 <= x0 < x1 <= 2000 for y0, y1, x0, x1 in a)
    assert len(sample_windows(300, 200, 10**9)) == 2  # small slide: every tile


def test_percentile_clip_and_scale():
    rng = np.random.default_rng(0)
    data = rng.uniform(100, 1100, size=(2, 300, 300)).astype(np.uint16)
    s = make_toy_slide(expression=False)
    s.image = ArrayImage(data, ["a", "b"])
    norm = compute_norm(s, [0, 1], cfg(clip_percentiles=[1.0, 99.0], stats_sample_pixels=10**6))
    assert np.allclose(norm.lo, 110, atol=3) and np.allclose(norm.hi, 1090, atol=3)
    win = norm.apply(data[:, :50, :50].astype(np.float32), 0, 0, (300, 300))
    assert win.min() == 0 and win.max() == 1
    ref = np.clip((data[:, :50, :50] - norm.lo[:, None, None]) / (norm.hi - norm.lo)[:, None, None], 0, 1)
    assert np.allclose(win, ref, atol=1e-5)
    # zero fill outside the slide stays 0 even when lo < 0 would map it above 0
    norm.lo[:] = -100
    out = norm.apply(np.zeros((2, 10, 10), np.float32), -5, -5, (300, 300))
    assert out[:, :5].max() == 0 and out[:, :, :5].max() == 0 and out[:, 5:, 5:].min() > 0


def test_constant_channel_maps_to_zero():
    s = make_toy_slide(expression=False)
    s.image = ArrayImage(np.full((1, 64, 64), 7, np.uint16), ["flat"])
    norm = compute_norm(s, [0], cfg())
    assert norm.hi[0] > norm.lo[0]
    assert norm.apply(np.full((1, 4, 4), 7, np.float32), 0, 0, (64, 64)).max() == 0


def test_flatfield_removes_an_illumination_ramp():
    ramp = make_toy_slide(height=256, width=512, expression=False, seed=1, gradient=2.0)  # 3x brighter at the right
    c = cfg(flatfield=True, flatfield_sigma_um=20.0)
    norm = compute_norm(ramp, [0, 1, 2], c)
    assert norm.background is not None and norm.background.shape[0] == 3
    win = norm.apply(ramp.image.data.astype(np.float32), 0, 0, (256, 512))
    bright = lambda w: (w[0, :, :128].mean(), w[0, :, -128:].mean())  # noqa: E731
    left, right = bright(win)
    assert abs(right / left - 1) < 0.25
    nf = compute_norm(ramp, [0, 1, 2], cfg())
    l2, r2 = bright(nf.apply(ramp.image.data.astype(np.float32), 0, 0, (256, 512)))
    assert r2 / l2 > 1.8  # without the correction the ramp stays
    # windows agree with the whole-slide transform (the background is upsampled per window)
    part = norm.apply(ramp.image.data[:, 100:180, 300:420].astype(np.float32), 100, 300, (256, 512))
    assert np.allclose(part, win[:, 100:180, 300:420], atol=1e-5)
