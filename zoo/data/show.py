"""A PNG of example images, one row per class: the seed's "Ejemplos de imagenes de cada clase".

The seed draws ten training images of each class on a canvas with a 2-pixel offset between them;
here torchvision's ``make_grid``/``save_image`` do the layout. ``zoo data show DATASET`` calls
:func:`save_example_grid`.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torchvision.utils import save_image

from zoo.data.normalize import MAX_PIXEL
from zoo.data.splits import DataSplits

SEED_OFFSET = 2
"""Pixels between neighbouring images (the seed's ``offset=2``)."""


def example_images(splits: DataSplits, per_class: int = 10) -> torch.Tensor:
    """uint8 ``(num_classes * per_class, C, H, W)``: the first ``per_class`` training images of
    each class in order, black where a class has fewer."""
    grid = torch.zeros(splits.num_classes, per_class, *splits.image_shape, dtype=torch.uint8)
    for label in range(splits.num_classes):  # one row per class, as in the seed
        members = (splits.train_labels == label).nonzero().flatten()[:per_class]
        grid[label, : members.numel()] = splits.train_images[members]
    return grid.flatten(0, 1)


def save_example_grid(
    splits: DataSplits, path: Path | str, per_class: int = 10, offset: int = SEED_OFFSET
) -> Path:
    """Write the grid of examples (a row per class, ``per_class`` columns) as a PNG to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    images = example_images(splits, per_class).float() / MAX_PIXEL
    save_image(images, path, nrow=per_class, padding=offset)
    return path
