"""Loading the data set a ``[data]`` table names, with its held-out validation split."""

from __future__ import annotations

from zoo.data.config import DataConfig
from zoo.data.registry import datasets
from zoo.data.splits import DataSplits, hold_out


def load_data(config: DataConfig) -> DataSplits:
    """Load the data set ``config.dataset`` names, holding out ``val_split`` of train if set."""
    splits = datasets.get(config.dataset)(config)
    if config.val_split > 0:
        splits = hold_out(splits, config.val_split, config.seed)
    return splits
