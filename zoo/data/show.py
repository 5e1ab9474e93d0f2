"""A PNG of example images, one row per class: the seed's "Ejemplos de imagenes de cada clase".

The seed draws ten training images of each class on a canvas with a 2-pixel offset between them;
here torchvision's ``make_grid`` does the layout and PIL writes each row's class name in a margin
on the left. ``zoo data show DATASET`` calls :func:`save_example_grid`.
"""

from __future__ import annotations

from pathlib import Path

import torch
from PIL import Image, ImageDraw, ImageFont

from zoo.data.splits import DataSplits
from zoo.errors import ZooError

SEED_OFFSET = 2
"""Pixels between neighbouring images (the seed's ``offset=2``)."""

LABEL_MARGIN = 4
"""Pixels around a class name in the left margin."""


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
    """Write the grid of examples (a row per class, ``per_class`` columns, the class name on the
    left of each row) as an image to ``path``; the format follows its ending (PIL's)."""
    from torchvision.transforms.v2.functional import to_pil_image  # imported on use
    from torchvision.utils import make_grid

    path = Path(path)
    grid = to_pil_image(
        make_grid(example_images(splits, per_class), nrow=per_class, padding=offset)
    )
    font = ImageFont.load_default()
    draw = ImageDraw.Draw(grid)
    margin = max(int(draw.textlength(name, font=font)) for name in splits.classes)
    labelled = Image.new("RGB", (grid.width + margin + 2 * LABEL_MARGIN, grid.height), "white")
    labelled.paste(grid, (margin + 2 * LABEL_MARGIN, 0))
    draw = ImageDraw.Draw(labelled)
    row_height = splits.image_shape[1] + offset
    for row, name in enumerate(splits.classes):
        draw.text((LABEL_MARGIN, offset + row * row_height), name, fill="black", font=font)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        labelled.save(path)
    except ValueError as exc:  # PIL: "unknown file extension"
        raise ZooError(f"--out {path}: {exc}; use an image ending such as .png or .jpg") from exc
    except OSError as exc:
        raise ZooError(f"cannot write {path}: {exc.strerror or exc}") from exc
    return path
