"""Block types: factories ``factory(in_channels, out_channels, *, stride=1, **options) -> Module``.

A block maps (N, in, H, W) to (N, out, H/stride, W/stride). The built-in blocks are compositions
of one conv-norm-activation unit (:mod:`zoo.blocks.units`) and one shortcut choice
(:mod:`zoo.blocks.shortcuts`); :mod:`zoo.blocks.residual` puts them together. Plugins add blocks
through the ``zoo.blocks`` entry-point group, and may build them from the same parts, exported
here.
"""

from zoo.blocks import residual, units  # noqa: F401  (importing registers the built-ins)
from zoo.blocks.registry import BlockFactory, blocks
from zoo.blocks.residual import Residual, residual_block
from zoo.blocks.shortcuts import auto_shortcut, make_shortcut
from zoo.blocks.units import ConvNormAct, make_activation

__all__ = [
    "BlockFactory",
    "ConvNormAct",
    "Residual",
    "auto_shortcut",
    "blocks",
    "make_activation",
    "make_shortcut",
    "residual_block",
]
