"""Fixtures for training tests: tiny recipes and CIFAR-format data written by the test."""

from __future__ import annotations

from pathlib import Path

import pytest
from cifar_files import PER_BATCH, make_tiny, write_cifar10_python

TINY_TRAIN = """
model = "resnet8_v1"
[data]
dataset = "cifar10"
download = false
augment = ["crop", "flip"]
[optim]
lr = 0.05
[train]
epochs = 2
batch_size = 8
deterministic = true
seed = 3
"""


@pytest.fixture
def cifar_root(tmp_path) -> Path:
    """A data folder holding a tiny CIFAR-10 in the python format (20 train, 8 test images)."""
    root = tmp_path / "data"
    write_cifar10_python(make_tiny(10, train=5 * PER_BATCH, test=8), root)
    return root


@pytest.fixture
def tiny_recipe(tmp_path) -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(TINY_TRAIN)
    return path
