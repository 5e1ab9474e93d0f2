"""Fixtures for the data tests: tiny data sets, and a network that is never reached.

No test touches the network: ``tests/conftest.py`` replaces the downloader for every test.
"""

from __future__ import annotations

import pytest
from cifar_files import PER_BATCH, TinyCifar, make_tiny


@pytest.fixture
def tiny10() -> TinyCifar:
    """20 training and 4 test random images of 10 classes."""
    return make_tiny(10, train=5 * PER_BATCH, test=PER_BATCH)


@pytest.fixture
def tiny4() -> TinyCifar:
    """20 training and 8 test images of 4 classes, every class in both splits."""
    return make_tiny(4, train=5 * PER_BATCH, test=8, seed=2)


@pytest.fixture
def tiny100() -> TinyCifar:
    """12 training and 6 test random images of 100 classes."""
    return make_tiny(100, train=12, test=6, seed=1)
