"""ResNet v1 (6n+2, basic blocks) and ResNet v2 (9n+2, pre-activation bottlenecks) for CIFAR.

The defaults are exactly the seed's Keras builders ``resnet_v1`` and ``resnet_v2``: every conv has
a bias, the v1 shortcut is a strided 1×1 conv without BN, and v2 uses the seed's bottleneck
widths (16, 64, 128 inside; 64, 128, 256 out), strides its first 1×1 conv and, after a stem that
ends in BN-ReLU, starts with a bare conv. The parameters also express the papers' definitions
(see :mod:`zoo.architectures.names`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import PositiveInt, validate_call

from zoo.architectures.depth import NINE_N_PLUS_TWO, SIX_N_PLUS_TWO, Depth
from zoo.architectures.registry import architectures
from zoo.architectures.spec import (
    KERAS_BN_EPS,
    KERAS_BN_MOMENTUM,
    BlockSpec,
    HeadSpec,
    NetworkSpec,
    StageSpec,
)
from zoo.blocks.shortcuts import Projection
from zoo.blocks.units import NO_ACTIVATION, Padding

Widths = tuple[PositiveInt, PositiveInt, PositiveInt]


STAGE_STRIDES = (1, 2, 2)
"""32×32 → 32, 16, 8: the first stage keeps the resolution, the others halve it (seed)."""


@architectures.register("resnet_v1")
@validate_call
def resnet_v1(
    *,
    depth: Depth,
    num_classes: PositiveInt = 10,
    in_channels: PositiveInt = 3,
    widths: Widths = (16, 32, 64),
    bias: bool = True,
    bn_momentum: float = KERAS_BN_MOMENTUM,
    bn_eps: float = KERAS_BN_EPS,
    shortcut: Projection = "conv",
    padding: Padding = "same",
) -> NetworkSpec:
    """ResNet v1: stem conv-BN-ReLU, 3 stages of n basic blocks, global pool, linear.

    ``shortcut`` is how the first block of stages 2 and 3 matches the new shape: ``conv`` (the
    seed), ``conv_bn`` (option B) or ``zero_pad`` (option A, He et al. 2015). ``padding="same"``
    is Keras' (the seed's), which pads a stride-2 3×3 conv (0, 1); ``symmetric`` is PyTorch's.
    """
    n = SIX_N_PLUS_TWO.blocks_per_stage(depth, "resnet_v1")
    stages = [
        StageSpec(block="basic", channels=width, stride=stride, depth=n)
        for width, stride in zip(widths, STAGE_STRIDES, strict=True)
    ]
    return NetworkSpec(
        name=f"resnet{depth}_v1",
        in_channels=in_channels,
        num_classes=num_classes,
        bn_momentum=bn_momentum,
        bn_eps=bn_eps,
        stem=BlockSpec(block="conv_bn_relu", channels=widths[0], bias=bias, padding=padding),
        stages=stages,
        block_options={"bias": bias, "shortcut": shortcut, "padding": padding},
    )


@architectures.register("resnet_v2")
@validate_call
def resnet_v2(
    *,
    depth: Depth,
    num_classes: PositiveInt = 10,
    in_channels: PositiveInt = 3,
    stem_channels: PositiveInt = 16,
    widths: Widths = (64, 128, 256),
    mid_channels: Widths = (16, 64, 128),
    bias: bool = True,
    bn_momentum: float = KERAS_BN_MOMENTUM,
    bn_eps: float = KERAS_BN_EPS,
    stem_norm_act: bool = True,
    stride_on: Literal["1x1", "3x3"] = "1x1",
    shortcut: Projection = "conv",
    padding: Padding = "same",
) -> NetworkSpec:
    """ResNet v2: stem, 3 stages of n pre-activation bottlenecks, BN-ReLU, global pool, linear.

    ``stem_norm_act`` (the seed) ends the stem in BN-ReLU, so the first bottleneck begins with a
    bare conv; without it (He et al. 2016) the stem is a bare conv and every bottleneck begins
    with BN-ReLU. ``padding`` as in :func:`resnet_v1` (the seed strides 1×1 convs, where the two
    agree).
    """
    n = NINE_N_PLUS_TWO.blocks_per_stage(depth, "resnet_v2")
    stages = [
        StageSpec(block="bottleneck", channels=width, stride=stride, depth=n, mid_channels=mid)
        for width, mid, stride in zip(widths, mid_channels, STAGE_STRIDES, strict=True)
    ]
    if stem_norm_act:  # the stem ends in BN-ReLU: the first bottleneck starts with a bare conv
        stages[0].first_block = {"first_norm_act": False}
    stem_act = "relu" if stem_norm_act else NO_ACTIVATION
    return NetworkSpec(
        name=f"resnet{depth}_v2",
        in_channels=in_channels,
        num_classes=num_classes,
        bn_momentum=bn_momentum,
        bn_eps=bn_eps,
        stem=BlockSpec(
            block="conv_bn_relu",
            channels=stem_channels,
            bias=bias,
            norm=stem_norm_act,
            activation=stem_act,
            padding=padding,
        ),
        stages=stages,
        block_options={
            "order": "pre",
            "bias": bias,
            "stride_on": stride_on,
            "shortcut": shortcut,
            "padding": padding,
        },
        head=HeadSpec(norm_act=True),
    )
