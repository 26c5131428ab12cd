"""Shared fixtures of the inference tests."""

import pytest


@pytest.fixture
def one_thread():
    """torch on one thread for the test (tiny problems run fastest so, and the CI machine
    is shared); yields the torch module, skips where the optional extra is missing."""
    torch = pytest.importorskip("torch")
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield torch
    torch.set_num_threads(old)
