import numpy as np
import pytest
import torch

from madcell.baselines import baseline_config, get_baseline, list_baselines, run_baseline
from madcell.errors import InputError

TRAIN = np.arange(0, 40, 2)  # even cells only


def _check_form(adata, store, key, dim=None):
    assert adata.uns["madcell"]["embedding_key"] == key
    emb = adata.obsm[key]
    assert emb.shape[0] == len(store) and emb.dtype == np.float32 and np.isfinite(emb).all()
    if dim is not None:
        assert emb.shape[1] == dim
    assert list(adata.obs_names) == list(store.cell_ids)
    assert "cell_type" in adata.obs and adata.obsm["spatial"].shape == (len(store), 2)
    return emb


def test_registry_and_config_errors():
    assert {"pca", "vae", "vqvae", "supervised", "frozen", "untrained"} <= set(list_baselines())
    assert baseline_config("vae", {"latent_dim": 7})["latent_dim"] == 7
    with pytest.raises(InputError):
        get_baseline("nope")
    with pytest.raises(InputError):
        get_baseline("vae", {"latnet_dim": 3})
    with pytest.raises(InputError):
        get_baseline("pca", {"views": "all"})


def test_pca_fits_on_train_cells_only(tiny_store, tmp_path):
    adata = run_baseline("pca", tiny_store, tmp_path / "pca.h5ad", {"size": 8, "n_components": 5}, TRAIN)
    emb = _check_form(adata, tiny_store, "X_pca", 10)  # both views: [PCA(morph) | PCA(micro)], one basis
    assert (tmp_path / "pca.h5ad").exists()
    np.testing.assert_array_equal(emb, np.concatenate([adata.obsm["X_pca_morph"], adata.obsm["X_pca_micro"]], 1))
    # one basis centred on the training cells' two views: the mean over those samples is ~0
    np.testing.assert_allclose((emb[TRAIN, :5].mean(0) + emb[TRAIN, 5:].mean(0)) / 2, 0, atol=1e-4)
    # components capped by the training cell count
    small = run_baseline("pca", tiny_store, None, {"size": 4, "views": "morph", "n_components": 500}, TRAIN[:6])
    assert small.obsm["X_pca"].shape[1] == 5


@pytest.mark.parametrize("views", ["morph", "both"])
def test_vae_trains_and_embeds(tiny_store, views):
    cfg = {"views": views, "size": 16, "channels": [8, 16], "latent_dim": 6, "epochs": 2, "batch_size": 8}
    model = get_baseline("vae", cfg).fit(tiny_store, TRAIN)
    assert model.log["steps"] == 4 and np.isfinite(model.log["final_loss"])
    emb = model.embed(tiny_store)[""]
    assert emb.shape == (40, 6)
    assert model.model.encoder.net[0][0].in_channels == (6 if views == "both" else 3)
    # posterior mean is deterministic
    np.testing.assert_allclose(emb, model.embed(tiny_store)[""], atol=1e-6)


def test_vae_rejects_bad_size(tiny_store):
    with pytest.raises(InputError, match="multiple"):
        get_baseline("vae", {"size": 20, "channels": [8, 16, 32]}).fit(tiny_store, TRAIN)


@pytest.mark.parametrize("ema", [True, False])
def test_vqvae_trains_and_embeds(tiny_store, ema):
    cfg = {"size": 16, "channels": [8, 16], "latent_dim": 5, "codebook_size": 16, "ema": ema,
           "epochs": 1, "max_steps": 2, "batch_size": 8}
    model = get_baseline("vqvae", cfg)
    model.fit(tiny_store, TRAIN)
    assert model.log["steps"] == 2
    vq = model.model.vq
    assert vq.codebook.requires_grad is (not ema)
    if ema:
        assert vq.cluster_size.sum() > 0  # EMA statistics were updated
    adata = run_baseline("vqvae", tiny_store, None, cfg, TRAIN, key="X_vq")
    _check_form(adata, tiny_store, "X_vq", 5)


def test_vq_straight_through_passes_gradients():
    from madcell.baselines.vqvae import VectorQuantizer

    vq = VectorQuantizer(4, 3, ema=False, decay=0.99)
    z = torch.randn(2, 3, 2, 2, requires_grad=True)
    q, codebook_loss, commit = vq(z)
    # forward value is the nearest code, gradient flows to z unchanged
    flat = z.detach().permute(0, 2, 3, 1).reshape(-1, 3)
    nearest = vq.codebook.detach()[torch.cdist(flat, vq.codebook.detach()).argmin(1)]
    torch.testing.assert_close(q.detach().permute(0, 2, 3, 1).reshape(-1, 3), nearest)
    q.sum().backward()
    torch.testing.assert_close(z.grad, torch.ones_like(z))
    (codebook_loss + commit).backward()
    assert vq.codebook.grad is not None


def test_supervised_resnet_uses_train_labels_only(tiny_store, tmp_path):
    cfg = {"arch": "resnet18", "size": 28, "epochs": 1, "batch_size": 8, "max_steps": 2}
    only_two = np.array([i for i in TRAIN if i % 3 != 2])  # training cells of two classes only
    model = get_baseline("supervised", cfg).fit(tiny_store, only_two)
    assert model.label == "cell_type" and list(model.classes) == ["b", "t"]
    assert model.model.get_classifier().out_features == 2
    emb = model.embed(tiny_store)[""]
    assert emb.shape == (40, 512)
    adata = run_baseline("supervised", tiny_store, tmp_path / "sup.h5ad", {**cfg, "views": "both"}, TRAIN)
    _check_form(adata, tiny_store, "X_supervised", 512)
    with pytest.raises(InputError, match="no label column"):
        get_baseline("supervised", {**cfg, "label": "missing"}).fit(tiny_store, TRAIN)
