"""The frozen external encoder loads a LOCAL file (random weights written here) and never downloads."""

import numpy as np
import pytest
import timm
import torch
from safetensors.torch import save_file

from madcell.baselines import get_baseline, load_frozen_model, run_baseline
from madcell.errors import InputError

KW = {"img_size": 32}


@pytest.fixture(scope="module")
def tiny_vit_file(tmp_path_factory):
    torch.manual_seed(123)
    src = timm.create_model("vit_tiny_patch16_224", pretrained=False, num_classes=10, img_size=32)
    path = tmp_path_factory.mktemp("w") / "tiny_vit.safetensors"
    save_file({k: v.contiguous() for k, v in src.state_dict().items()}, str(path))
    return path, src


def test_weights_equal_the_file(tiny_vit_file):
    path, src = tiny_vit_file
    model = load_frozen_model("vit_tiny_patch16_224", path, img_size=32)
    ref = src.state_dict()
    got = model.state_dict()
    assert "head.weight" not in got and model.num_classes == 0
    for k, v in got.items():
        torch.testing.assert_close(v, ref[k], msg=k)
    assert all(not p.requires_grad for p in model.parameters())


def test_torch_file_with_nested_model_key(tiny_vit_file, tmp_path):
    _, src = tiny_vit_file
    p = tmp_path / "ckpt.pth"
    torch.save({"model": src.state_dict()}, p)
    model = load_frozen_model("vit_tiny_patch16_224", p, img_size=32)
    torch.testing.assert_close(model.cls_token, src.cls_token)


def test_wrong_or_missing_file_is_an_input_error(tiny_vit_file, tmp_path):
    path, _ = tiny_vit_file
    with pytest.raises(InputError, match="does not exist"):
        load_frozen_model("vit_tiny_patch16_224", tmp_path / "absent.safetensors", img_size=32)
    with pytest.raises(InputError, match="does not fit"):
        load_frozen_model("vit_small_patch16_224", path, img_size=32)
    with pytest.raises(InputError, match="weights"):
        get_baseline("frozen", {"model": "vit_tiny_patch16_224"}).fit(None, None)


def test_frozen_rgb_both_views(tiny_store, tiny_vit_file):
    path, _ = tiny_vit_file
    cfg = {"model": "vit_tiny_patch16_224", "weights": str(path), "img_size": 32, "views": "both",
           "rgb_channels": ["pan_ck", 1, "dapi"]}
    adata = run_baseline("frozen", tiny_store, None, cfg, key="X_uni")
    assert adata.obsm["X_uni"].shape == (40, 384)
    assert adata.obsm["X_uni_morph"].shape == (40, 192)
    np.testing.assert_allclose(adata.obsm["X_uni"][:, 192:], adata.obsm["X_uni_micro"])
    model = get_baseline("frozen", cfg).fit(tiny_store)
    assert model.rgb == [2, 1, 0] and model.side == 32


@pytest.mark.parametrize("in_chans", [3, 1])
def test_frozen_bag_of_channels(tiny_store, tiny_vit_file, in_chans):
    path, src = tiny_vit_file
    cfg = {"model": "vit_tiny_patch16_224", "weights": str(path), "img_size": 32, "views": "morph",
           "mode": "channels", "in_chans": in_chans}
    model = get_baseline("frozen", cfg).fit(tiny_store)
    emb = model.embed(tiny_store)[""]
    assert emb.shape == (40, 3 * 192)
    if in_chans == 1:  # timm folded the RGB stem into one channel
        torch.testing.assert_close(model.model.patch_embed.proj.weight, src.patch_embed.proj.weight.sum(1, keepdim=True))
    # the second block of the concatenation is channel 1 encoded alone
    x = torch.from_numpy(tiny_store.read_morph(np.arange(4)))[:, 1:2]
    with torch.no_grad():
        one = model.model((torch.nn.functional.interpolate(x, size=(32, 32), mode="bilinear", antialias=True)
                           .repeat(1, in_chans, 1, 1) - model.mean) / model.std)
    np.testing.assert_allclose(emb[:4, 192:384], one.numpy(), atol=1e-4)


def test_untrained_vit_matches_mad_shape(tiny_store):
    overrides = {"model": {"arch": "custom", "embed_dim": 24, "depth": 1, "num_heads": 2}}
    a = run_baseline("untrained", tiny_store, None, {"overrides": overrides, "batch_size": 16})
    emb = a.obsm["X_untrained"]
    assert emb.shape == (40, 48) and np.isfinite(emb).all()
    np.testing.assert_allclose(emb[:, :24], a.obsm["X_untrained_morph"])
    b = run_baseline("untrained", tiny_store, None, {"overrides": overrides, "batch_size": 16})
    np.testing.assert_allclose(emb, b.obsm["X_untrained"], atol=1e-5)  # seeded
