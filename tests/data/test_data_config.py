"""The ``[data]`` table, the registry, the held-out split, the example grid and the docs table."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
from PIL import Image
from pydantic import ValidationError
from torchvision.transforms.v2.functional import pil_to_tensor

from zoo.data import DataConfig, DataSplits, datasets, load_data, save_example_grid
from zoo.errors import UnknownNameError, ZooError

DOCS = Path(__file__).parents[2] / "docs" / "data.md"


def test_defaults_are_the_papers() -> None:
    config = DataConfig()
    assert config.dataset == "cifar10" and config.augment == ["crop", "flip"]
    assert config.crop_padding == 4 and config.shift_fraction == 0.1 and config.val_split == 0
    augmentation = config.augmentation()
    assert augmentation.steps == ("crop", "flip") and augmentation.crop_padding == 4


@pytest.mark.parametrize(
    "bad",
    [
        {"colour": True},
        {"augment": ["rotate"]},
        {"augment": ["flip", "flip"]},
        {"normalize": "zca"},
        {"val_split": 1.0},
        {"shift_fraction": -0.1},
        {"train_size": 0},
    ],
)
def test_rejects_bad_tables(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        DataConfig(**bad)


def test_every_field_is_described() -> None:
    for name, field in DataConfig.model_fields.items():
        assert field.description, name


def test_builtins_are_registered() -> None:
    assert {"cifar10", "cifar100", "imagefolder", "shapes"} <= set(datasets.names())


def test_unknown_dataset_suggests_names() -> None:
    with pytest.raises(ValidationError, match=r"unknown dataset 'shape'; did you mean shapes"):
        DataConfig(dataset="shape")  # refused when the recipe loads, before any training
    with pytest.raises(UnknownNameError, match=r"unknown dataset 'shape'; did you mean shapes"):
        load_data(DataConfig.model_construct(dataset="shape"))


def test_val_split_must_leave_images_on_both_sides() -> None:
    with pytest.raises(ZooError, match=r"data.val_split = 0.001 holds out 0"):
        load_data(DataConfig(dataset="shapes", train_size=20, val_size=10, val_split=0.001))


def test_val_split_is_deterministic_and_disjoint() -> None:
    config = DataConfig(dataset="shapes", train_size=100, val_size=10, val_split=0.2, seed=3)
    first, second = load_data(config), load_data(config)
    assert first.val_images.shape[0] == 20 and first.train_images.shape[0] == 80
    assert torch.equal(first.val_images, second.val_images)


def test_example_grid_has_a_row_per_class(tmp_path: Path) -> None:
    splits = load_data(DataConfig(dataset="shapes", train_size=60, val_size=10))
    path = save_example_grid(splits, tmp_path / "out" / "grid.png", per_class=4)
    grid = pil_to_tensor(Image.open(path))
    offset = 2
    margin = grid.shape[2] - (4 * (32 + offset) + offset)  # the class names, on the left
    assert grid.shape[1] == 10 * (32 + offset) + offset and margin > 0
    first = splits.train_images[splits.train_labels == 0][0]
    left = margin + offset
    assert torch.equal(grid[:, offset : offset + 32, left : left + 32], first)
    assert (grid[:, :, :margin] < 128).any()  # text in the margin


def test_example_grid_leaves_missing_examples_black(tmp_path: Path) -> None:
    images = torch.full((3, 3, 8, 8), 200, dtype=torch.uint8)
    splits = DataSplits(
        images, torch.tensor([0, 0, 1]), images, torch.tensor([0, 1, 1]), ["a", "b"], "t"
    )
    grid = pil_to_tensor(Image.open(save_example_grid(splits, tmp_path / "g.png", per_class=2)))
    grid = grid[:, :, grid.shape[2] - 22 :]  # without the margin of class names
    assert (grid[:, 12:20, 12:20] == 0).all() and (grid[:, 12:20, 2:10] == 200).all()


def test_docs_table_lists_every_field() -> None:
    table = DOCS.read_text().split("## The `[data]` table")[1]
    rows = re.findall(r"^\| `(\w+)` \|", table, flags=re.MULTILINE)
    assert rows == list(DataConfig.model_fields)
