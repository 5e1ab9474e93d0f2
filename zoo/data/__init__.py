"""Data for zoo: named data sets, batched augmentation, normalisation and a device-resident loader.

``load_data(DataConfig(...))`` returns a :class:`DataSplits` (uint8 images, int64 labels);
:class:`DeviceLoader` turns a split into float batches on the training device. Importing this
package registers the built-in data sets: ``cifar10``, ``cifar100``, ``imagefolder``, ``shapes``.
"""

from zoo.data import cifar, imagefolder, shapes  # noqa: F401  (registers the built-in data sets)
from zoo.data.augment import (
    Augmentation,
    AugmentName,
    crop,
    flip_where,
    random_crop,
    random_flip,
    random_shift,
    translate,
)
from zoo.data.config import DataConfig
from zoo.data.load import load_data
from zoo.data.loader import DeviceLoader
from zoo.data.normalize import NormalizeMode, Normalizer
from zoo.data.registry import DatasetLoader, datasets
from zoo.data.show import save_example_grid
from zoo.data.splits import DataSplits

__all__ = [
    "AugmentName",
    "Augmentation",
    "DataConfig",
    "DataSplits",
    "DatasetLoader",
    "DeviceLoader",
    "NormalizeMode",
    "Normalizer",
    "crop",
    "datasets",
    "flip_where",
    "load_data",
    "random_crop",
    "random_flip",
    "random_shift",
    "save_example_grid",
    "translate",
]
