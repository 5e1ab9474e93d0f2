"""Block types: factories ``factory(in_channels, out_channels, *, stride=1, **options) -> Module``.

A block maps (N, in, H, W) to (N, out, H/stride, W/stride). The built-in blocks are compositions
of one conv-norm-activation unit (:mod:`zoo.blocks.units`) and one shortcut choice
(:mod:`zoo.blocks.shortcuts`); :mod:`zoo.blocks.residual` puts them together. Plugins add blocks
through the ``zoo.blocks`` entry-point group.
"""

from zoo.blocks import residual, units  # noqa: F401  (importing registers the built-ins)
from zoo.blocks.registry import blocks

__all__ = ["blocks"]
