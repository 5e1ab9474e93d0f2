"""The recipe's data set and the loaders a run reads it through."""

from __future__ import annotations

from pathlib import Path

from zoo.data import DataConfig, DeviceLoader, Normalizer, load_data
from zoo.data.splits import DataSplits
from zoo.recipe import Recipe
from zoo.train.runtime import distributed
from zoo.train.runtime.device import Placement

EVAL_BATCH_SIZE = 500
"""Validation batches: big enough to keep a GPU busy, small enough for any CPU's memory."""


def load_splits(
    recipe: Recipe, data_root: Path | None, dist: distributed.Distribution | None = None
) -> DataSplits:
    """The recipe's data set, with ``--data-dir`` in place of ``data.root`` if given. Under DDP
    rank 0 loads first (and downloads, if it must) while the other ranks wait for it."""
    config = (
        recipe.data if data_root is None else recipe.data.model_copy(update={"root": data_root})
    )
    dist = dist or distributed.Distribution()
    if not dist.is_main:
        distributed.barrier(dist)
    splits = load_data(config)
    if dist.is_main:
        distributed.barrier(dist)
    return splits


def training_loader(
    recipe: Recipe,
    splits: DataSplits,
    normalizer: Normalizer,
    placement: Placement,
    dist: distributed.Distribution,
) -> DeviceLoader:
    """This rank's shard of the training split, reshuffled and augmented each epoch from (seed,
    epoch, rank). Batches are all full (``drop_last``; the order changes each epoch, so every
    image is still seen), so a compiled step never recompiles for a short last batch."""
    return DeviceLoader(
        splits.train_images,
        splits.train_labels,
        batch_size=recipe.train.batch_size,
        device=placement.device,
        shuffle=True,
        drop_last=True,
        augment=recipe.data.augmentation() if recipe.data.augment else None,
        normalizer=normalizer,
        channels_last=placement.channels_last,
        rank=dist.rank,
        world_size=dist.world_size,
        seed=recipe.train.seed,
        workers=recipe.data.worker_count(),
        skip_bad=recipe.data.skip_bad_images,
    )


def evaluation_loader(
    splits: DataSplits, normalizer: Normalizer, placement: Placement, data: DataConfig
) -> DeviceLoader:
    """The validation split, unshuffled and unaugmented, in large batches (nothing is learnt,
    so the batch size only decides how many launches it takes)."""
    return DeviceLoader(
        splits.val_images,
        splits.val_labels,
        batch_size=EVAL_BATCH_SIZE,
        device=placement.device,
        normalizer=normalizer,
        channels_last=placement.channels_last,
        workers=data.worker_count(),
        skip_bad=data.skip_bad_images,
    )
