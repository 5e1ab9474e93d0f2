"""Block types: factories ``factory(in_channels, out_channels, *, stride=1, **options) -> Module``.

A block maps (N, in, H, W) to (N, out, H/stride, W/stride). The built-in blocks are explicit
classes with named layers (``conv1``, ``bn1``, …, ``shortcut``) whose ``forward`` is the paper's
equation: :mod:`zoo.blocks.basic` (basic and plain blocks) and :mod:`zoo.blocks.bottleneck`, each
with its pre-activation variant. They are made of one conv helper and one shortcut choice
(:mod:`zoo.blocks.units`, :mod:`zoo.blocks.shortcuts`); the registered factories only pick the
class. Plugins add blocks through the ``zoo.blocks`` entry-point group, and may build them from
the parts exported here (:class:`Residual` composes a body and a shortcut).
"""

from zoo.blocks import basic, bottleneck, units  # noqa: F401  (importing registers the built-ins)
from zoo.blocks.basic import BasicBlock, PlainBlock, PreActBasicBlock, PreActPlainBlock
from zoo.blocks.bottleneck import Bottleneck, PreActBottleneck
from zoo.blocks.registry import BlockFactory, blocks
from zoo.blocks.residual import Residual
from zoo.blocks.shortcuts import auto_shortcut, make_shortcut
from zoo.blocks.units import ConvNormAct, make_activation, make_conv

__all__ = [
    "BasicBlock",
    "BlockFactory",
    "Bottleneck",
    "ConvNormAct",
    "PlainBlock",
    "PreActBasicBlock",
    "PreActBottleneck",
    "PreActPlainBlock",
    "Residual",
    "auto_shortcut",
    "blocks",
    "make_activation",
    "make_conv",
    "make_shortcut",
]
