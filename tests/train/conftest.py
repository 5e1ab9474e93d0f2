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


@pytest.fixture
def train_tiny(run_zoo, tiny_recipe, cifar_root, tmp_path):
    """``zoo train`` of the tiny recipe on the tiny CIFAR into ``tmp_path/run``, plus ``extra``."""

    def train(*extra: str):
        return run_zoo("train", str(tiny_recipe), "--out", str(tmp_path / "run"), "--data-dir",
                       str(cifar_root), *extra)  # fmt: skip

    return train


@pytest.fixture
def resume_tiny(run_zoo, cifar_root, tmp_path):
    """``zoo train --resume`` of the run :func:`train_tiny` made, plus ``extra``."""

    def resume(*extra: str):
        return run_zoo("train", "--resume", str(tmp_path / "run"), "--data-dir", str(cifar_root),
                       *extra)  # fmt: skip

    return resume
