"""Any folder of images in torchvision's ImageFolder layout, loaded into memory as uint8.

Layout under ``[data] root``::

    train/<class>/*.png|*.jpg|...
    val/<class>/...

Classes are found by torchvision's own ``find_classes``; image files (endings as in
``IMG_EXTENSIONS``: png, jpg, jpeg, bmp, ppm, pgm, tif, tiff, webp; other files are ignored) by a
walk that follows symlinks but visits each real directory once, so a link loop (``a/up -> ..``)
neither hangs nor loads the same images again. A decompression bomb (an image beyond PIL's
``MAX_IMAGE_PIXELS``) is reported as a bad image.
Classes are the folder names under ``train/``, sorted (torchvision's ``find_classes``); ``val/``
must have the same class folders. ``val/`` may be absent when ``val_split`` holds out part of the
training set instead. All images must have one size, since a batch is one tensor.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import torch
from PIL import Image
from torch import Tensor
from torchvision.datasets.folder import (
    IMG_EXTENSIONS,
    find_classes,
    has_file_allowed_extension,
    pil_loader,
)
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
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return pil_to_tensor(pil_loader(str(path)))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ZooError(f"imagefolder: {path} is a decompression bomb: {exc}") from exc
    except (OSError, ValueError, SyntaxError) as exc:  # PIL reports some broken PNGs as syntax
        raise ZooError(f"imagefolder: cannot decode {path}: {exc}") from exc


def image_files(folder: Path, seen: set[tuple[int, int]]) -> list[Path]:
    """The image files under ``folder``, sorted, symlinks followed. A directory whose (device,
    inode) is in ``seen`` is skipped, and each visited one is added: a symlink loop ends, and
    nothing is read twice."""
    found: list[Path] = []
    for root, dirs, files in os.walk(folder, followlinks=True):
        key = _identity(Path(root))
        if key in seen:
            dirs.clear()  # a directory reached again through a link: not again, not below
            continue
        seen.add(key)
        dirs.sort()
        found += [
            Path(root, name)
            for name in sorted(files)
            if has_file_allowed_extension(name, IMG_EXTENSIONS)
        ]
    return found


def _identity(path: Path) -> tuple[int, int]:
    info = path.stat()
    return info.st_dev, info.st_ino


def read_split(folder: Path, classes: list[str]) -> tuple[Tensor, Tensor]:
    """All images under ``folder/<class>/`` stacked to ``(N, 3, H, W)``, and their labels."""
    samples = []
    # the split folder and every class folder are walked from their own place only: a link
    # to one of them from inside a class (``up -> ..``) is not followed
    seen = {_identity(folder), *(_identity(folder / name) for name in classes)}
    for label, name in enumerate(classes):
        seen.discard(_identity(folder / name))
        files = image_files(folder / name, seen)
        if not files:
            raise ZooError(
                f"imagefolder: {folder / name} has no images (endings: {', '.join(IMG_EXTENSIONS)})"
            )
        samples += [(path, label) for path in files]
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
