"""The in-memory result of loading a data set: uint8 images and int64 labels, train and val.

Every data set loader returns a :class:`DataSplits`; everything downstream (normalisation, the
device loader, the example grid) reads only this. Images stay uint8 ``(N, C, H, W)`` so that a
whole data set is small enough to live on the training device (CIFAR-10: 150 MiB).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from zoo.errors import ZooError


@dataclass(frozen=True)
class DataSplits:
    """A data set's training and validation images and labels, and its class names."""

    train_images: Tensor
    train_labels: Tensor
    val_images: Tensor
    val_labels: Tensor
    classes: list[str]
    name: str

    def __post_init__(self) -> None:
        for split in ("train", "val"):
            images: Tensor = getattr(self, f"{split}_images")
            labels: Tensor = getattr(self, f"{split}_labels")
            if images.dtype != torch.uint8 or images.dim() != 4:
                raise TypeError(f"{self.name}: {split}_images must be uint8 (N, C, H, W)")
            if labels.dtype != torch.int64 or labels.shape != images.shape[:1]:
                raise TypeError(f"{self.name}: {split}_labels must be int64 (N,) matching images")

    @property
    def num_classes(self) -> int:
        """How many classes the labels index into."""
        return len(self.classes)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """``(C, H, W)`` of one image."""
        channels, height, width = self.train_images.shape[1:]
        return (channels, height, width)


def hold_out(splits: DataSplits, fraction: float, seed: int) -> DataSplits:
    """Replace the validation split by a random ``fraction`` of the training split.

    The choice depends only on ``seed``, so the same recipe always holds out the same images.
    """
    total = splits.train_images.shape[0]
    count = round(total * fraction)
    if not 0 < count < total:
        raise ZooError(
            f"data.val_split = {fraction} holds out {count} of {splits.name}'s {total} training "
            "images; choose a fraction that leaves at least one image on each side"
        )
    order = torch.randperm(total, generator=torch.Generator().manual_seed(seed))
    val, train = order[:count].sort().values, order[count:].sort().values
    return DataSplits(
        train_images=splits.train_images[train],
        train_labels=splits.train_labels[train],
        val_images=splits.train_images[val],
        val_labels=splits.train_labels[val],
        classes=splits.classes,
        name=splits.name,
    )
