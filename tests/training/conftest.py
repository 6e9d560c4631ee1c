"""Training tests run tiny networks: one intra-op thread is much faster than two on a
shared machine (thread hand-offs dominate such small kernels), and each test module of this
folder restores the setting it found."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch


@pytest.fixture(autouse=True, scope="module")
def one_thread() -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
