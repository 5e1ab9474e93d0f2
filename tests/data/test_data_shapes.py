"""The generated ``shapes`` data set: deterministic, balanced, and shaped like CIFAR."""

from __future__ import annotations

import torch

from zoo.data import DataConfig, load_data
from zoo.data.shapes import SHAPES, generate


def test_same_seed_same_images() -> None:
    first, second = generate(200, seed=4), generate(200, seed=4)
    assert torch.equal(first[0], second[0]) and torch.equal(first[1], second[1])
    assert not torch.equal(first[0], generate(200, seed=5)[0])


def test_classes_are_balanced() -> None:
    _, labels = generate(1000, seed=0)
    assert labels.bincount().tolist() == [100] * 10
    _, labels = generate(1003, seed=0)
    assert set(labels.bincount().tolist()) == {100, 101}


def test_registered_and_split_sizes() -> None:
    splits = load_data(DataConfig(dataset="shapes", train_size=300, val_size=50, seed=1))
    assert splits.train_images.shape == (300, 3, 32, 32) and splits.val_images.shape[0] == 50
    assert splits.train_images.dtype == torch.uint8 and splits.train_labels.dtype == torch.int64
    assert splits.classes == list(SHAPES) and splits.num_classes == 10
    assert not torch.equal(splits.train_images[:50], splits.val_images)  # different seeds


def test_every_image_has_a_shape_and_a_background() -> None:
    images, _ = generate(500, seed=0)
    spread = images.float().amax(dim=(1, 2, 3)) - images.float().amin(dim=(1, 2, 3))
    assert (spread > 80).all()  # contrasting shape on every image


def test_colour_does_not_give_the_class_away() -> None:
    images, labels = generate(2000, seed=0)
    mean_colour = images.float().mean(dim=(2, 3))  # (N, 3)
    per_class = torch.stack([mean_colour[labels == c].mean(0) for c in range(10)])
    assert (per_class.amax(0) - per_class.amin(0) < 25).all()  # all classes look alike on average
