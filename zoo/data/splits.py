"""The in-memory result of loading a data set: uint8 images and int64 labels, train and val.

Every data set loader returns a :class:`DataSplits`; everything downstream (normalisation, the
device loader, the example grid) reads only this. Images stay uint8 ``(N, C, H, W)`` so that a
whole data set is small enough to live on the training device (CIFAR-10: 150 MiB).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from zoo.data.files import ImageFiles
from zoo.errors import ZooError

Images = Tensor | ImageFiles
"""A split's images: uint8 ``(N, C, H, W)`` in memory, or files decoded as they are read."""


@dataclass(frozen=True)
class DataSplits:
    """A data set's training and validation images and labels, and its class names."""

    train_images: Images
    train_labels: Tensor
    val_images: Images
    val_labels: Tensor
    classes: list[str]
    name: str
    skipped: int = 0
    """Unreadable image files left out (``data.skip_bad_images``)."""
    crop_ratio: float = 1.0
    """The centre-crop share the images were decoded with (1: kept at their own size)."""

    def __post_init__(self) -> None:
        for split in ("train", "val"):
            images: Images = getattr(self, f"{split}_images")
            labels: Tensor = getattr(self, f"{split}_labels")
            streamed = isinstance(images, ImageFiles)
            if not streamed and (images.dtype != torch.uint8 or images.dim() != 4):
                raise TypeError(f"{self.name}: {split}_images must be uint8 (N, C, H, W)")
            if labels.dtype != torch.int64 or labels.shape != (len(images),):
                raise TypeError(f"{self.name}: {split}_labels must be int64 (N,) matching images")

    @property
    def num_classes(self) -> int:
        """How many classes the labels index into."""
        return len(self.classes)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``(C, H, W)`` of one image."""
        if isinstance(self.train_images, ImageFiles):
            return (3, *self.train_images.size)
        channels, height, width = self.train_images.shape[1:]
        return (channels, height, width)

    @property
    def streamed(self) -> bool:
        """Whether the images are read from their files each epoch instead of held."""
        return isinstance(self.train_images, ImageFiles)


def hold_out(splits: DataSplits, fraction: float, seed: int) -> DataSplits:
    """Replace the validation split by a random ``fraction`` of the training split.

    The choice depends only on ``seed``, so the same recipe always holds out the same images.
    """
    total = len(splits.train_labels)
    count = round(total * fraction)
    if not 0 < count < total:
        raise ZooError(
            f"data.val_split = {fraction} holds out {count} of {splits.name}'s {total} training "
            "images; choose a fraction that leaves at least one image on each side"
        )
    order = torch.randperm(total, generator=torch.Generator().manual_seed(seed))
    val, train = order[:count].sort().values, order[count:].sort().values
    return DataSplits(
        train_images=take(splits.train_images, train),
        train_labels=splits.train_labels[train],
        val_images=take(splits.train_images, val),
        val_labels=splits.train_labels[val],
        classes=splits.classes,
        name=splits.name,
        skipped=splits.skipped,
        crop_ratio=splits.crop_ratio,
    )


def take(images: Images, indices: Tensor) -> Images:
    """The images at ``indices``, held or on disk."""
    return images.subset(indices.tolist()) if isinstance(images, ImageFiles) else images[indices]
