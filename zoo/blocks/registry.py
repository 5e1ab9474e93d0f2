"""The block registry: one :class:`~zoo.registry.Registry` fed by ``zoo.blocks`` entry points."""

from collections.abc import Callable

from torch import nn

from zoo.registry import Registry

BlockFactory = Callable[..., nn.Module]
"""``factory(in_channels, out_channels, *, stride=1, **options) -> nn.Module``."""

blocks: Registry[BlockFactory] = Registry("block", group="zoo.blocks")
