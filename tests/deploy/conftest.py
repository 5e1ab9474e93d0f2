"""Fixtures for using trained models: one tiny run on the built-in shapes data, and images."""

from __future__ import annotations

from pathlib import Path

import pytest
from image_files import write_image

TINY_SHAPES = """
model = "resnet8_v1"
[data]
dataset = "shapes"
train_size = 64
val_size = 16
[train]
epochs = 1
batch_size = 16
seed = 1
"""


@pytest.fixture(scope="session")
def shapes_run(tmp_path_factory) -> Path:
    """A run directory trained for one epoch on 64 shapes images (made once per session)."""
    from zoo.recipe import load_recipe
    from zoo.train.loop import train

    folder = tmp_path_factory.mktemp("shapes-run")
    recipe = folder / "tiny-shapes.toml"
    recipe.write_text(TINY_SHAPES)
    train(load_recipe(recipe), folder / "run", quiet=True)
    return folder / "run"


@pytest.fixture
def image_folder(tmp_path) -> Path:
    """Images of several sizes and modes in nested folders, plus a text file."""
    folder = tmp_path / "images"
    write_image(folder / "b.png", 50, 80, seed=1)
    write_image(folder / "a.png", 32, 32, "RGBA", seed=2)
    write_image(folder / "deep" / "c.jpg", 300, 200, "L", seed=3)
    (folder / "notes.txt").write_text("not an image")
    return folder
