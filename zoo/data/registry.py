"""Data sets chosen by name: the ``datasets`` registry and :func:`load_data`.

A data set is a loader ``(config: DataConfig) -> DataSplits`` registered under its recipe name
(``@datasets.register("cifar10")``). Plugins add loaders through the ``zoo.datasets`` entry-point
group, so a recipe can name them without zoo importing arbitrary code.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from zoo.data.splits import DataSplits, hold_out
from zoo.registry import Registry

if TYPE_CHECKING:  # the config validates names against this registry: it imports this module
    from zoo.data.config import DataConfig

DatasetLoader = Callable[["DataConfig"], DataSplits]
"""What a data set registers: a function from the ``[data]`` table to loaded splits."""

datasets: Registry[DatasetLoader] = Registry("dataset", group="zoo.datasets")
"""All known data sets; the built-ins register when :mod:`zoo.data` is imported."""


def load_data(config: DataConfig) -> DataSplits:
    """Load the data set ``config.dataset`` names, holding out ``val_split`` of train if set."""
    splits = datasets.get(config.dataset)(config)
    if config.val_split > 0:
        splits = hold_out(splits, config.val_split, config.seed)
    return splits
