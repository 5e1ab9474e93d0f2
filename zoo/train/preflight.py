"""What is checked before a run writes anything: a recipe, its data and its network that cannot
train together are one clear error, not a traceback an epoch later or a half-written run
directory."""

from __future__ import annotations

import torch
from torch import nn

from zoo.data.splits import DataSplits
from zoo.errors import ZooError
from zoo.recipe import Recipe, budget
from zoo.train.freeze import check_freeze, check_patterns
from zoo.train.runtime import distributed
from zoo.train.runtime.device import Placement
from zoo.train.tensorboard import writer


def check_run(
    recipe: Recipe,
    model: nn.Module,
    splits: DataSplits,
    placement: Placement,
    samples_per_rank: int,
) -> None:
    """The checks of a run's data and model: classes, image shape and memory, the batch size,
    the module patterns of ``train.freeze`` and ``optim.lr_scale``, and TensorBoard."""
    config = recipe.train
    check_classes(recipe, model, splits)
    check_image_shape(recipe, splits, placement.device)
    if config.batch_size > samples_per_rank:
        raise ZooError(
            f"train.batch_size: {config.batch_size} is more than the "
            f"{samples_per_rank} training images each process has; lower it"
        )
    check_freeze(model, config.freeze, recipe.source)
    check_patterns(model, list(recipe.optim.lr_scale), "optim.lr_scale", recipe.source)
    if config.tensorboard:
        writer(None)


def check_placement(recipe: Recipe, placement: Placement, dist: distributed.Distribution) -> None:
    """What the devices must offer, checked before any data is loaded."""
    if dist.enabled and recipe.train.sync_batchnorm and placement.device.type != "cuda":
        raise ZooError("train.sync_batchnorm: torch's SyncBatchNorm works on CUDA GPUs only")


def check_classes(recipe: Recipe, model: nn.Module, splits: DataSplits) -> None:
    """The classifier's outputs must match the data set's classes."""
    outputs = getattr(model, "num_classes", None)
    if outputs is not None and outputs != splits.num_classes:
        raise ZooError(
            f"{recipe.source}: the model has {outputs} classes but {splits.name} has "
            f"{splits.num_classes}; set model.num_classes = {splits.num_classes}"
        )


def check_image_shape(
    recipe: Recipe, splits: DataSplits, device: torch.device | None = None
) -> None:
    """A batch through the network on the meta device: a size or channel count the network
    cannot take, or activations that do not fit ``device``, is one clear error before anything
    is written."""
    with torch.device("meta"):
        network = recipe.build(weights=False)
        try:
            batch = (recipe.train.batch_size, *splits.image_shape)
            size = budget.estimate(network.eval(), batch)
            where = device or torch.device("cpu")
            budget.check_fits(size, where, recipe.source, recipe.train.batch_size)
            batch_size = recipe.train.batch_size  # training batches are all full (drop_last)
            network.train()(torch.empty(min(batch_size, 2), *splits.image_shape))
        except ValueError as exc:  # batch norm cannot train on one value per channel
            raise ZooError(
                f"{recipe.source}: batch norm cannot train on a batch of one "
                f"{'×'.join(map(str, splits.image_shape[1:]))} image ({exc}); change "
                "train.batch_size so that no batch (the last one included) holds one image"
            ) from exc
        except RuntimeError as exc:
            raise ZooError(
                f"{recipe.source}: the network cannot take {splits.name}'s images of shape "
                f"{'×'.join(map(str, splits.image_shape))} ({str(exc).splitlines()[0]})"
            ) from exc
