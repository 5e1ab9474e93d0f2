"""Plain (VGG-style) nets of He et al. 2015 §4.2: ResNet v1 with the shortcuts taken out.

6n+2 layers: a stem conv, then 3 stages of n plain blocks (two conv-BN-ReLU units each) at 16, 32
and 64 channels, then global pooling and a linear classifier. Like the seed's v1, every conv has a
bias by default.
"""

from __future__ import annotations

from pydantic import PositiveInt, validate_call

from zoo.architectures.depth import SIX_N_PLUS_TWO, Depth
from zoo.architectures.registry import architectures
from zoo.architectures.resnet import STAGE_STRIDES, Widths
from zoo.architectures.spec import (
    KERAS_BN_EPS,
    KERAS_BN_MOMENTUM,
    BlockSpec,
    NetworkSpec,
    StageSpec,
)


@architectures.register("plain")
@validate_call
def plain(
    *,
    depth: Depth,
    num_classes: PositiveInt = 10,
    in_channels: PositiveInt = 3,
    widths: Widths = (16, 32, 64),
    bias: bool = True,
    bn_momentum: float = KERAS_BN_MOMENTUM,
    bn_eps: float = KERAS_BN_EPS,
) -> NetworkSpec:
    """A 6n+2-layer plain net: ResNet v1's layers without shortcuts."""
    n = SIX_N_PLUS_TWO.blocks_per_stage(depth, "plain")
    stages = [
        StageSpec(block="plain", channels=width, stride=stride, depth=n)
        for width, stride in zip(widths, STAGE_STRIDES, strict=True)
    ]
    return NetworkSpec(
        name=f"plain{depth}",
        in_channels=in_channels,
        num_classes=num_classes,
        bn_momentum=bn_momentum,
        bn_eps=bn_eps,
        stem=BlockSpec(block="conv_bn_relu", channels=widths[0], bias=bias),
        stages=stages,
        block_options={"bias": bias},
    )
