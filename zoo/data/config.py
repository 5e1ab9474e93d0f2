"""The ``[data]`` table of a recipe: which data set, where it lives, and how it is fed.

The augmentation defaults follow the paper (He et al. 2015, §4.2): 4-pixel padded random crops
and horizontal flips, validated on the test split; normalisation defaults to per-channel mean and
std, and the recipes' bases set the per-pixel mean both the paper and the seed subtract. The
seed's Keras pipeline is ``augment = ["shift", "flip"]`` (ImageDataGenerator with
width/height_shift_range=0.1 and horizontal_flip=True) and ``normalize = "pixel_mean"``
(``subtract_pixel_mean = True``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, PositiveInt, field_validator

from zoo.data.augment import PAPER_CROP_PADDING, SEED_SHIFT_FRACTION, Augmentation, AugmentName
from zoo.data.files import CROP_RATIO, Size, output_size
from zoo.data.normalize import NormalizeMode
from zoo.data.registry import datasets

MAX_GENERATED = 10_000_000
"""A bound on the images of a generated data set (30 GB of 32×32 RGB): more is a typo."""

MAX_MIX_ALPHA = 100.0
"""A bound on mixup's and cutmix's α: beyond it Beta(α, α) is all but 1/2."""

MAX_WORKERS = 64
"""A bound on decoding processes."""

DEFAULT_WORKERS = 8
"""Decoding processes by default, at most: more rarely help one training process."""

MAX_PADDING = 1024
"""A bound on ``crop_padding``: far beyond any image zoo trains on."""


class DataConfig(BaseModel):
    """Where the images come from and how a training batch is made from them."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)

    dataset: str = Field(
        "cifar10",
        description="Registered data set name: cifar10, cifar100, imagefolder, shapes, or a "
        "plugin's (entry-point group zoo.datasets).",
    )
    root: Path = Field(
        Path("data"),
        strict=False,  # TOML gives a string
        description="Folder that holds the data set (for CIFAR the folder that contains "
        "cifar-10-batches-py/; for imagefolder the folder with train/ and val/).",
    )
    augment: list[AugmentName] = Field(
        ["crop", "flip"],
        description='Training augmentations, applied in order: "shift" (the seed\'s edge-'
        'replicated translation), "crop" (the paper\'s zero-padded random crop), "flip" '
        "(horizontal flip of a random half). [] turns augmentation off.",
    )
    shift_fraction: float = Field(
        SEED_SHIFT_FRACTION,
        ge=0.0,
        lt=0.5,
        description='Largest shift of "shift", as a fraction of the image width/height '
        "(the seed's width_shift_range and height_shift_range).",
    )
    crop_padding: int = Field(
        PAPER_CROP_PADDING,
        ge=0,
        le=MAX_PADDING,
        description='Zero padding on each side before the random crop of "crop" (paper: 4).',
    )
    mixup: float = Field(
        0.0,
        ge=0.0,
        le=MAX_MIX_ALPHA,
        description="Mixup's Beta(α, α) parameter (Zhang et al. 2018), timm's mixup_alpha; 0 is "
        "off. Targets become soft; needs an even batch_size.",
    )
    cutmix: float = Field(
        0.0,
        ge=0.0,
        le=MAX_MIX_ALPHA,
        description="CutMix's Beta(α, α) parameter (Yun et al. 2019), timm's cutmix_alpha; 0 is "
        "off. With mixup too, each batch takes one of the two at random (timm's switch).",
    )
    normalize: NormalizeMode | None = Field(
        None,
        description='"pixel_mean": x/255 minus the training set\'s mean image (the seed); '
        '"channel": per-channel mean/std of the training set; "imagenet": ImageNet\'s mean and '
        'std, which pretrained weights expect; "none": x/255. Default: "imagenet" when '
        '[model] weights are loaded, else "channel".',
    )
    image_size: PositiveInt | list[PositiveInt] | None = Field(
        None,
        description="The size the network sees, an int or [height, width]. Default: the data "
        "set's own (CIFAR, shapes: 32); an image folder needs it only when its images differ "
        "in size. Images are resized (shorter side) and centre-cropped to it.",
    )
    crop_ratio: float = Field(
        CROP_RATIO,
        gt=0.0,
        le=1.0,
        description="Share of the resized image the centre crop keeps, when image_size resizes "
        "(timm's crop_pct; 224 of 256 in torchvision's ImageNet recipes).",
    )
    in_memory: Literal["auto"] | bool = Field(
        "auto",
        description='"auto": hold an image folder in memory when its decoded images fit a '
        "budget (half the available memory, or of what ulimit -v/-d leave), else read it from "
        "disk each epoch; true: always hold it (an error if it cannot fit); false: always "
        "stream.",
    )
    workers: NonNegativeInt | None = Field(
        None,
        le=MAX_WORKERS,
        description="Processes that decode image files (default: one per core, at most 8).",
    )
    skip_bad_images: bool = Field(
        False,
        description="Skip unreadable or corrupt image files and count them, instead of "
        "stopping at the first with its name.",
    )
    val_split: float = Field(
        0.0,
        ge=0.0,
        lt=1.0,
        description="0 validates on the data set's test split (as the seed does); otherwise "
        "this fraction of the training set is held out for validation.",
    )
    seed: int = Field(
        0,
        ge=0,
        le=2**63 - 1,  # shapes seeds with 2·seed + 1, which torch takes as a 64-bit number
        description="Seed for the held-out validation split and for generated data sets.",
    )
    download: bool = Field(
        True,
        description="Download CIFAR from its official URL when it is not under root.",
    )
    train_size: int = Field(
        10_000,
        gt=0,
        le=MAX_GENERATED,
        description="Number of training images of a generated data set (shapes).",
    )
    val_size: int = Field(
        2_000,
        gt=0,
        le=MAX_GENERATED,
        description="Number of validation images of a generated data set (shapes).",
    )

    @field_validator("dataset")
    @classmethod
    def _registered(cls, dataset: str) -> str:
        """A name from the data set registry, so a typo fails when the recipe loads."""
        if dataset not in datasets:
            raise ValueError(datasets.unknown_name_message(dataset))
        return dataset

    @field_validator("augment")
    @classmethod
    def _no_repeats(cls, augment: list[AugmentName]) -> list[AugmentName]:
        """Each augmentation at most once: a repeat is almost certainly a typo."""
        repeated = sorted({name for name in augment if augment.count(name) > 1})
        if repeated:
            raise ValueError(f"{', '.join(repeated)} listed more than once")
        return augment

    @field_validator("image_size")
    @classmethod
    def _height_and_width(cls, size: int | list[int] | None) -> int | list[int] | None:
        if isinstance(size, list) and len(size) != 2:
            raise ValueError(f"give one size or [height, width], not {len(size)} numbers")
        return size

    def output_size(self) -> Size | None:
        """``image_size`` as (height, width), or None for the data set's own size."""
        return None if self.image_size is None else output_size(self.image_size)

    def worker_count(self) -> int:
        """Decoding processes: ``workers``, or one per core up to :data:`DEFAULT_WORKERS`."""
        if self.workers is not None:
            return self.workers
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
        return min(DEFAULT_WORKERS, cores or 1)

    def augmentation(self) -> Augmentation:
        """The batched training augmentation this table describes."""
        return Augmentation(
            steps=tuple(self.augment),
            shift_fraction=self.shift_fraction,
            crop_padding=self.crop_padding,
        )
