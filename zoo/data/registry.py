"""Data sets chosen by name: the ``datasets`` registry.

A data set is a loader ``(config: DataConfig) -> DataSplits`` registered under its recipe name
(``@datasets.register("cifar10")``). Plugins add loaders through the ``zoo.datasets`` entry-point
group, so a recipe can name them without zoo importing arbitrary code. The ``[data]`` table
(:mod:`zoo.data.config`) checks its ``dataset`` against this registry, so this module knows
nothing of it; :func:`zoo.data.load.load_data` calls the loaders.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from zoo.data.splits import DataSplits
from zoo.registry import Registry

DatasetLoader = Callable[[Any], DataSplits]
"""What a data set registers: a function from the ``[data]`` table (a
:class:`~zoo.data.config.DataConfig`) to loaded splits."""

datasets: Registry[DatasetLoader] = Registry("dataset", group="zoo.datasets")
"""All known data sets; the built-ins register when :mod:`zoo.data` is imported."""
