"""VGG-11/13/16/19 with BN (Simonyan & Zisserman 2014) and a CIFAR head.

The conv layouts are torchvision's (``torchvision.models.vgg.cfgs``, configurations A, B, D, E).
Five 2×2 max-pools take a 32×32 image to 1×1×512; the CIFAR head is then two hidden layers of 512
and the classifier, so that the depth (weighted layers) stays the one in the name: 8 + 3 = 11.
"""

from __future__ import annotations

from typing import Literal

from pydantic import NonNegativeFloat, PositiveInt, validate_call

from zoo.architectures.registry import architectures
from zoo.architectures.spec import HeadSpec, NetworkSpec, StageSpec

LAYOUT_OF_DEPTH = {11: "A", 13: "B", 16: "D", 19: "E"}
"""torchvision's configuration letter of each VGG depth (Simonyan & Zisserman, Table 1)."""

POOL = "M"
"""The max-pool marker in torchvision's layouts."""


@architectures.register("vgg")
@validate_call
def vgg(
    *,
    depth: Literal[11, 13, 16, 19],
    num_classes: PositiveInt = 10,
    in_channels: PositiveInt = 3,
    bias: bool = True,
    hidden: tuple[PositiveInt, ...] = (512, 512),
    dropout: NonNegativeFloat = 0.5,
) -> NetworkSpec:
    """VGG with BN: runs of 3×3 conv-BN-ReLU separated by max-pools, then the head."""
    from torchvision.models.vgg import cfgs as torchvision_vgg_layouts  # seconds: import on use

    stages: list[StageSpec] = []
    channels = in_channels
    for item in torchvision_vgg_layouts[LAYOUT_OF_DEPTH[depth]]:
        if item == POOL:
            stages.append(StageSpec(block="max_pool", channels=channels, stride=2))
        elif stages and stages[-1].block == "conv_bn_relu" and stages[-1].channels == item:
            stages[-1].repeat += 1
        else:
            stages.append(StageSpec(block="conv_bn_relu", channels=int(item), bias=bias))
            channels = int(item)
    return NetworkSpec(
        name=f"vgg{depth}",
        in_channels=in_channels,
        num_classes=num_classes,
        stages=stages,
        head=HeadSpec(hidden=list(hidden), dropout=dropout),
    )
