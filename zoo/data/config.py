"""The ``[data]`` table of a recipe: which data set, where it lives, and how it is fed.

The augmentation defaults follow the paper (He et al. 2015, §4.2): 4-pixel padded random crops
and horizontal flips, validated on the test split; normalisation defaults to per-channel mean and
std, and the recipes' bases set the per-pixel mean both the paper and the seed subtract. The
seed's Keras pipeline is ``augment = ["shift", "flip"]`` (ImageDataGenerator with
width/height_shift_range=0.1 and horizontal_flip=True) and ``normalize = "pixel_mean"``
(``subtract_pixel_mean = True``).
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from zoo.data.augment import PAPER_CROP_PADDING, SEED_SHIFT_FRACTION, Augmentation, AugmentName
from zoo.data.normalize import NormalizeMode
from zoo.data.registry import datasets

MAX_GENERATED = 10_000_000
"""A bound on the images of a generated data set (30 GB of 32×32 RGB): more is a typo."""

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
    normalize: NormalizeMode = Field(
        "channel",
        description='"pixel_mean": x/255 minus the training set\'s mean image (the seed); '
        '"channel": per-channel mean/std of the training set; "none": x/255.',
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

    def augmentation(self) -> Augmentation:
        """The batched training augmentation this table describes."""
        return Augmentation(
            steps=tuple(self.augment),
            shift_fraction=self.shift_fraction,
            crop_padding=self.crop_padding,
        )
