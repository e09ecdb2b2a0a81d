from __future__ import annotations

import copy

import pytest
import torch

from madcell.augment import MultiCropAugment
from madcell.augment.ops import gaussian_blur, random_dihedral, random_resized_crop
from madcell.config import default_config
from madcell.errors import InputError


@pytest.fixture
def aug_cfg():
    cfg = copy.deepcopy(default_config()["augment"])
    cfg.update(n_global=2, n_local=3, local_size_morph=28, local_size_micro=42)
    return cfg


def gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("channels", [1, 5])
def test_shapes_range_and_determinism(aug_cfg, channels):
    aug = MultiCropAugment(aug_cfg, morph_size=42, micro_size=84)
    x = torch.rand(4, channels, 70, 70, generator=gen(0))
    glob, loc = aug(x, "morph", gen(1))
    assert [t.shape for t in glob] == [(4, channels, 42, 42)] * 2
    assert [t.shape for t in loc] == [(4, channels, 28, 28)] * 3
    assert all(t.min() >= 0 and t.max() <= 1 and t.dtype == torch.float32 for t in glob + loc)
    again, again_loc = aug(x, "morph", gen(1))
    assert all(torch.equal(a, b) for a, b in zip(glob + loc, again + again_loc))
    other, _ = aug(x, "morph", gen(2))
    assert not torch.equal(glob[0], other[0])
    assert not torch.equal(glob[0], glob[1])  # two global crops differ
    glob, loc = aug((x * 255).to(torch.uint8), "micro", gen(1))  # uint8 store values
    assert glob[0].shape == (4, channels, 84, 84) and loc[0].shape == (4, channels, 42, 42)
    assert glob[0].max() <= 1


def test_full_square_box_is_identity():
    x = torch.rand(3, 2, 28, 28, generator=gen(0))
    y = random_resized_crop(x, 28, (1.0, 1.0), gen(1), ratio=(1.0, 1.0))
    assert torch.allclose(y, x, atol=1e-5)
    small = random_resized_crop(x, 14, (1.0, 1.0), gen(1), ratio=(1.0, 1.0))  # antialiased 2x down-scaling
    assert torch.allclose(small, torch.nn.functional.avg_pool2d(x, 2), atol=1e-5)


def test_dihedral_group():
    x = torch.arange(9.0).reshape(1, 1, 3, 3).expand(64, 1, 3, 3).contiguous()
    rots = [torch.rot90(x[0], k, (-2, -1)) for k in range(4)]
    group = rots + [r.flip(-1) for r in rots]
    y = random_dihedral(x, gen(0), flip=False, rot90=True)
    assert all(any(torch.equal(s, r) for r in rots) for s in y)
    y = random_dihedral(x, gen(0), flip=True, rot90=True)
    seen = {next(i for i, r in enumerate(group) if torch.equal(s, r)) for s in y}
    assert seen == set(range(8))
    assert torch.equal(random_dihedral(x, gen(0), flip=False, rot90=False), x)


def test_blur_keeps_constants_and_smooths():
    flat = torch.full((2, 3, 28, 28), 0.3)
    assert torch.allclose(gaussian_blur(flat, 1.0, (0.5, 1.5), gen(0)), flat, atol=1e-6)
    spike = torch.zeros(2, 1, 28, 28)
    spike[:, :, 14, 14] = 1.0
    blurred = gaussian_blur(spike, 1.0, (1.0, 1.0), gen(0))
    assert blurred.max() < 0.5 and blurred.sum().item() == pytest.approx(2.0, rel=1e-4)
    assert torch.equal(gaussian_blur(spike, 0.0, (1.0, 1.0), gen(0)), spike)


def test_sizes_must_be_patch_multiples(aug_cfg):
    with pytest.raises(InputError, match="local_size_morph"):
        MultiCropAugment({**aug_cfg, "local_size_morph": 40}, 42, 84)
    with pytest.raises(InputError, match="micro_size"):
        MultiCropAugment(aug_cfg, 42, 100)
    with pytest.raises(InputError):
        MultiCropAugment({**aug_cfg, "n_global": 0}, 42, 84)


def test_accelerator_and_cpu_selection_paths_agree(aug_cfg, monkeypatch):
    from madcell.augment import ops

    aug = MultiCropAugment({**aug_cfg, "blur_prob": 0.5}, morph_size=42, micro_size=84)
    x = torch.rand(8, 2, 56, 56, generator=gen(0))
    sparse = aug(x, "morph", gen(4))
    monkeypatch.setattr(ops, "DENSE_SELECT_ON_CPU", True)
    dense = aug(x, "morph", gen(4))
    for a, b in zip(sparse[0] + sparse[1], dense[0] + dense[1]):
        assert torch.allclose(a, b, atol=1e-6)


def _centre_spot(n: int = 64, side: int = 84, half: int = 4) -> torch.Tensor:
    """Images that are dark except for a bright square of half-side ``half`` px at the centre."""
    x = torch.zeros(n, 1, side, side)
    c = side // 2
    x[:, :, c - half : c + half, c - half : c + half] = 1.0
    return x


def test_micro_keep_center_keeps_the_centre_cell_in_every_crop(aug_cfg):
    x = _centre_spot()
    cfg = {**aug_cfg, "n_local": 4, "local_scale": [0.05, 0.2], "intensity_jitter": 0.0, "blur_prob": 0.0, "noise_std": 0.0}
    kept = MultiCropAugment({**cfg, "micro_keep_center": 0.1}, 42, 84)
    glob, loc = kept(x, "micro", gen(0))
    for crop in glob + loc:
        # the whole central square (half-side 0.1 x 84 = 8.4 px > the 4-px spot) lies in the box:
        # every crop still shows the full spot's light
        assert (crop.amax(dim=(1, 2, 3)) > 0.5).all()
    free = MultiCropAugment(cfg, 42, 84)  # DINO's crops: small local boxes usually miss the centre
    _, loc_free = free(x, "micro", gen(0))
    assert min(float((c.amax(dim=(1, 2, 3)) > 0.5).float().mean()) for c in loc_free) < 0.5
    morph_glob, _ = kept(x[:, :, 21:63, 21:63], "morph", gen(0))  # the morphology view is not constrained
    assert morph_glob[0].shape == (64, 1, 42, 42)


def test_micro_keep_center_draws_the_same_numbers():
    x = torch.rand(8, 2, 84, 84, generator=gen(0))
    a = random_resized_crop(x, 42, (0.05, 0.2), gen(3))
    b = random_resized_crop(x, 42, (0.05, 0.2), gen(3), keep_center=0.1)
    g1, g2 = gen(3), gen(3)
    random_resized_crop(x, 42, (0.5, 1.0), g1)
    random_resized_crop(x, 42, (0.5, 1.0), g2, keep_center=0.1)
    assert torch.equal(torch.rand(1, generator=g1), torch.rand(1, generator=g2))  # same stream afterwards
    assert a.shape == b.shape and not torch.equal(a, b)


def test_micro_keep_center_range(aug_cfg):
    with pytest.raises(InputError, match="micro_keep_center"):
        MultiCropAugment({**aug_cfg, "micro_keep_center": 0.6}, 42, 84)
