"""Any folder of images in torchvision's ImageFolder layout, loaded into memory as uint8.

Layout under ``[data] root``::

    train/<class>/*.png|*.jpg|...
    val/<class>/...

Files are found by torchvision's own ``find_classes``/``make_dataset`` (image endings as in
``IMG_EXTENSIONS``: png, jpg, jpeg, bmp, ppm, pgm, tif, tiff, webp; other files are ignored).
Classes are the folder names under ``train/``, sorted (torchvision's ``find_classes``); ``val/``
must have the same class folders. ``val/`` may be absent when ``val_split`` holds out part of the
training set instead. All images must have one size, since a batch is one tensor.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor
from torchvision.datasets.folder import IMG_EXTENSIONS, find_classes, make_dataset, pil_loader
from torchvision.transforms.v2.functional import pil_to_tensor

from zoo.data.config import DataConfig
from zoo.data.registry import datasets
from zoo.data.splits import DataSplits
from zoo.errors import ZooError

LAYOUT = "root/train/<class>/*.png and root/val/<class>/*.png"
"""The expected layout, quoted in error messages."""


def _classes(folder: Path) -> list[str]:
    """Sorted class folder names of ``folder``; a missing or empty folder is a ZooError."""
    if not folder.is_dir():
        raise ZooError(f"imagefolder: no folder {folder}; expected {LAYOUT}")
    try:
        classes, _ = find_classes(folder)
    except FileNotFoundError:
        raise ZooError(f"imagefolder: {folder} has no class folders; expected {LAYOUT}") from None
    return classes


def _read(path: Path) -> Tensor:
    """One image as uint8 RGB ``(3, H, W)``; an unreadable file is a ZooError naming it.

    Decoding goes through ImageFolder's own ``pil_loader`` (torchvision.io's decoders are
    deprecated since torchvision 0.29).
    """
    try:
        return pil_to_tensor(pil_loader(str(path)))
    except (OSError, ValueError, SyntaxError) as exc:  # PIL reports some broken PNGs as syntax
        raise ZooError(f"imagefolder: cannot decode {path}: {exc}") from exc


def read_split(folder: Path, classes: list[str]) -> tuple[Tensor, Tensor]:
    """All images under ``folder/<class>/`` stacked to ``(N, 3, H, W)``, and their labels."""
    try:
        samples = make_dataset(
            folder, {name: i for i, name in enumerate(classes)}, extensions=IMG_EXTENSIONS
        )
    except FileNotFoundError as exc:
        raise ZooError(f"imagefolder: {folder}: {exc}") from None
    images: list[Tensor] = []
    first = Path(samples[0][0])
    for path, _ in samples:
        image = _read(Path(path))
        if images and image.shape != images[0].shape:
            raise ZooError(
                f"imagefolder: {path} is {tuple(image.shape[1:])} (H, W) but {first} is "
                f"{tuple(images[0].shape[1:])}; all images must have one size (resize them first)"
            )
        images.append(image)
    labels = torch.tensor([label for _, label in samples], dtype=torch.int64)
    return torch.stack(images), labels


@datasets.register("imagefolder")
def imagefolder(config: DataConfig) -> DataSplits:
    """Images from ``config.root/train`` and ``config.root/val``, one folder per class."""
    root = config.root
    classes = _classes(root / "train")
    train_images, train_labels = read_split(root / "train", classes)
    if config.val_split > 0 and not (root / "val").exists():
        val_images, val_labels = train_images[:0], train_labels[:0]  # load_data holds out
    else:
        val_classes = _classes(root / "val")
        if val_classes != classes:
            only_train = ", ".join(sorted(set(classes) - set(val_classes))) or "none"
            only_val = ", ".join(sorted(set(val_classes) - set(classes))) or "none"
            raise ZooError(
                f"imagefolder: {root / 'val'} must have the same class folders as "
                f"{root / 'train'}; only in train: {only_train}; only in val: {only_val}"
            )
        val_images, val_labels = read_split(root / "val", classes)
        if val_images.shape[1:] != train_images.shape[1:]:
            raise ZooError(
                f"imagefolder: images in {root / 'val'} are {tuple(val_images.shape[2:])} (H, W) "
                f"but those in {root / 'train'} are {tuple(train_images.shape[2:])}; "
                "all images must have one size"
            )
    return DataSplits(train_images, train_labels, val_images, val_labels, classes, "imagefolder")
