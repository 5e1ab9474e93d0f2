"""VGG-11/13/16/19 (Simonyan & Zisserman 2014): torchvision's networks, and a CIFAR variant.

The conv layouts are torchvision's (``torchvision.models.vgg.cfgs``, configurations A, B, D, E).
A stage is one of the paper's five groups of 3×3 convs at one width, ended by a 2×2 max-pool.

- ``vgg11`` … ``vgg19`` and their ``_bn`` forms are torchvision's networks exactly: 224×224 input,
  the classifier on a 7×7 average pool, two hidden layers of 4096 with dropout 0.5, 1000 classes.
- ``vgg11_cifar`` … ``vgg19_cifar`` are the CIFAR form zoo had before (with BN): five pools take
  32×32 to 1×1×512, then two hidden layers of 512 and the classifier, so that the depth
  (weighted layers) stays the one in the name: 8 + 3 = 11.
"""

from __future__ import annotations

from typing import Literal

from pydantic import NonNegativeFloat, PositiveInt, validate_call

from zoo.architectures.registry import architectures
from zoo.architectures.spec import HeadSpec, NetworkSpec, PoolSpec, StageSpec

LAYOUT_OF_DEPTH = {11: "A", 13: "B", 16: "D", 19: "E"}
"""torchvision's configuration letter of each VGG depth (Simonyan & Zisserman, Table 1)."""

POOL = "M"
"""The max-pool marker in torchvision's layouts."""

IMAGENET_HIDDEN = (4096, 4096)
IMAGENET_POOL_SIZE = 7
"""torchvision's VGG classifier: ``AdaptiveAvgPool2d((7, 7))``, then 4096, 4096 and the classes."""


def vgg_stages(depth: int) -> list[StageSpec]:
    """The five stages of a VGG: runs of 3×3 convs of one width, each ended by a 2×2 max-pool."""
    from torchvision.models.vgg import cfgs as torchvision_vgg_layouts  # seconds: import on use

    stages: list[StageSpec] = []
    run: list[int] = []
    for item in torchvision_vgg_layouts[LAYOUT_OF_DEPTH[depth]]:
        if item == POOL:
            pool = PoolSpec(kind="max", kernel_size=2)
            stages.append(
                StageSpec(block="conv_bn_relu", channels=run[0], depth=len(run), pool=pool)
            )
            run = []
        else:
            run.append(int(item))
    return stages


@architectures.register("vgg")
@validate_call
def vgg(
    *,
    depth: Literal[11, 13, 16, 19],
    batch_norm: bool = True,
    num_classes: PositiveInt = 1000,
    in_channels: PositiveInt = 3,
    hidden: tuple[PositiveInt, ...] = IMAGENET_HIDDEN,
    dropout: NonNegativeFloat = 0.5,
    pool_size: PositiveInt = IMAGENET_POOL_SIZE,
    input_size: tuple[PositiveInt, PositiveInt] = (224, 224),
    init: Literal["he_normal", "torch", "torchvision"] = "torchvision",
) -> NetworkSpec:
    """VGG: five stages of 3×3 conv-[BN]-ReLU, each ended by a max-pool, then the head.

    Every conv has a bias, as in torchvision; the defaults are torchvision's ImageNet network."""
    return NetworkSpec(
        name=f"vgg{depth}" + ("_bn" if batch_norm else ""),
        in_channels=in_channels,
        num_classes=num_classes,
        input_size=input_size,
        stages=vgg_stages(depth),
        block_options={"bias": True, "norm": batch_norm},
        head=HeadSpec(hidden=list(hidden), dropout=dropout, pool_size=pool_size),
        init=init,
    )
