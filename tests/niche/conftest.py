import pytest
import torch
from niche_toy import make_toy


@pytest.fixture
def toy():
    torch.set_num_threads(1)
    return make_toy()
