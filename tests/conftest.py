"""Fixtures for every test folder."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture
def one_thread():
    """Small-model fitting on one torch thread (two threads on the shared 2-core box were ~25x slower)."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)
