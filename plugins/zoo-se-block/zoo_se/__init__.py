"""The squeeze-and-excitation residual block (Hu et al. 2018) as a zoo plugin.

x = act(shortcut(x) + SE(F(x))), where F is two 3×3 conv-BN units as in ResNet v1 and SE rescales
F's channels by a gate computed from their global average (Hu et al. 2018, Fig. 3). The SE module
is timm's; the units and shortcut are zoo's public parts. Nothing here touches zoo's code: the
entry points in pyproject.toml are all it takes.
"""

from __future__ import annotations

from typing import Literal

from pydantic import PositiveInt, validate_call
from timm.layers import SEModule
from torch import nn

from zoo.architectures import BlockSpec, NetworkSpec, StageSpec
from zoo.blocks import ConvNormAct, Residual, auto_shortcut, make_activation, make_shortcut
from zoo.errors import ZooError


@validate_call
def se_residual(
    in_channels: PositiveInt,
    out_channels: PositiveInt,
    *,
    stride: PositiveInt = 1,
    reduction: PositiveInt = 16,
    bias: bool = False,
    shortcut: Literal["conv", "conv_bn", "zero_pad"] = "conv_bn",
) -> nn.Module:
    """A ResNet v1 basic block with squeeze-and-excitation on its residual branch."""
    body = nn.Sequential(
        ConvNormAct(in_channels, out_channels, stride=stride, bias=bias),
        ConvNormAct(out_channels, out_channels, bias=bias, activation=None),
        SEModule(out_channels, rd_ratio=1 / reduction, rd_divisor=1),  # exactly out/reduction
    )
    kind = auto_shortcut(shortcut, in_channels, out_channels, stride)
    return Residual(
        body,
        make_shortcut(kind, in_channels, out_channels, stride, bias=bias),
        make_activation("relu"),
    )


@validate_call
def se_resnet(
    *,
    depth: PositiveInt = 20,
    num_classes: PositiveInt = 10,
    reduction: PositiveInt = 16,
) -> NetworkSpec:
    """SE-ResNet for CIFAR: ResNet v1's 6n+2 layout with se_residual blocks."""
    n, rest = divmod(depth - 2, 6)
    if n < 1 or rest:
        raise ZooError(f"se_resnet: depth should be 6n+2 (e.g. 20, 32, 56), got {depth}")
    stages = [
        StageSpec(block="se_residual", channels=width, stride=stride, repeat=n, reduction=reduction)
        for width, stride in ((16, 1), (32, 2), (64, 2))
    ]
    return NetworkSpec(
        name=f"se_resnet{depth}",
        num_classes=num_classes,
        stem=BlockSpec(block="conv_bn_relu", channels=16, bias=False),
        stages=stages,
    )
