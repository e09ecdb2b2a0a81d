"""The in-memory view cache returns exactly what the store returns, and is used only when it fits."""

from __future__ import annotations

import numpy as np

from madcell.data.store import ViewStore
from madcell.data.source import InMemoryViews as ViewCache
from madcell.train.data import batch_loader, cached_source, views_nbytes


def test_cache_matches_store(tiny_store):
    vs = ViewStore(tiny_store)
    cache = ViewCache(vs, chunk=10)  # several chunks, ragged last one
    idx = np.array([5, 0, 47, 5, 13])  # unsorted, repeated
    np.testing.assert_array_equal(cache.read_morph(idx, raw=True), vs.read_morph(idx, raw=True))
    np.testing.assert_array_equal(cache.read_micro(idx, raw=True), vs.read_micro(idx, raw=True))
    assert cache.micro.dtype == vs.dtype


def test_cached_source_only_when_it_fits(tiny_store):
    vs = ViewStore(tiny_store)
    n = views_nbytes(vs)
    assert n == len(vs) * 2 * (14 * 14 + 28 * 28)
    assert isinstance(cached_source(vs, n / 2**20), ViewCache)
    assert cached_source(vs, (n - 1) / 2**20) is vs
    assert cached_source(vs, None) is vs


def test_loader_same_batches_from_cache_and_store(tiny_store):
    vs = ViewStore(tiny_store)
    batches = [np.array([3, 1, 2]), np.array([40, 7, 9])]
    for a, b in zip(batch_loader(vs, batches), batch_loader(ViewCache(vs), batches)):
        for k in ("morph", "micro", "index"):
            assert np.array_equal(a[k].numpy(), b[k].numpy())
