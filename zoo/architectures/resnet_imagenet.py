"""torchvision's ImageNet ResNets, ResNeXts and Wide ResNets, from zoo's blocks.

He et al. 2015's ImageNet ResNets (Table 1) as torchvision builds them (``models/resnet.py``):
a 7×7/2 conv-BN-ReLU stem with a 3×3/2 max-pool (padding 1), four stages at 64, 128, 256 and 512
base channels, the first unstrided; basic blocks (ResNet-18/34) or bottlenecks with the stride
on the 3×3 ("ResNet v1.5") and four times the base channels out; 1×1 conv + BN projections where
the shape changes; no conv bias. A bottleneck's inner width is ``int(base · width_per_group / 64)
· groups``: ResNeXt (Xie et al. 2017) groups its 3×3, Wide ResNet (Zagoruyko & Komodakis 2016)
doubles ``width_per_group``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import PositiveInt, validate_call

from zoo.architectures.registry import architectures
from zoo.architectures.spec import BlockSpec, NetworkSpec, PoolSpec, StageSpec

BASE_WIDTHS = (64, 128, 256, 512)
STAGE_STRIDES = (1, 2, 2, 2)
"""224×224 → 56 (stem and pool), 56, 28, 14, 7."""

BOTTLENECK_EXPANSION = 4
"""A bottleneck's output is four times its base width (torchvision's ``Bottleneck.expansion``)."""

STEM = BlockSpec(
    block="conv_bn_relu",
    channels=64,
    stride=2,
    kernel_size=7,
    bias=False,
    pool=PoolSpec(kind="max", kernel_size=3, stride=2, padding=1),
)
"""torchvision's ``conv1``/``bn1``/``relu``/``maxpool``."""

Layers = tuple[PositiveInt, PositiveInt, PositiveInt, PositiveInt]


@architectures.register("resnet")
@validate_call
def resnet(
    *,
    layers: Layers,
    block: Literal["basic", "bottleneck"],
    groups: PositiveInt = 1,
    width_per_group: PositiveInt = 64,
    num_classes: PositiveInt = 1000,
    in_channels: PositiveInt = 3,
    input_size: tuple[PositiveInt, PositiveInt] = (224, 224),
) -> NetworkSpec:
    """An ImageNet ResNet of four stages of ``layers`` blocks (torchvision's ``ResNet``)."""
    stages = []
    for base, depth, stride in zip(BASE_WIDTHS, layers, STAGE_STRIDES, strict=True):
        if block == "basic":
            stages.append(StageSpec(block="basic", channels=base, stride=stride, depth=depth))
            continue
        mid = int(base * width_per_group / 64) * groups
        stages.append(
            StageSpec(
                block="bottleneck",
                channels=base * BOTTLENECK_EXPANSION,
                stride=stride,
                depth=depth,
                mid_channels=mid,
            )
        )
    options: dict[str, object] = {"bias": False, "shortcut": "conv_bn"}
    if block == "bottleneck":
        options |= {"order": "post", "stride_on": "3x3", "groups": groups}
    return NetworkSpec(
        name="resnet",
        in_channels=in_channels,
        num_classes=num_classes,
        input_size=input_size,
        stem=STEM.model_copy(),
        stages=stages,
        block_options=options,
        init="torchvision",
    )
