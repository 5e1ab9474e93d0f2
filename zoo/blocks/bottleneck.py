"""The bottleneck block: 1×1 → 3×3 → 1×1 convs (He et al. 2015 §4.1), in two explicit classes.

- :class:`Bottleneck`: post-activation, torchvision's ``Bottleneck`` (ResNet-50 and deeper,
  ResNeXt, Wide ResNet): y = relu(shortcut(x) + bn3(conv3(relu(bn2(conv2(relu(bn1(conv1(x)))))))).
- :class:`PreActBottleneck`: pre-activation, He et al. 2016 and the seed's ``resnet_v2``:
  y = shortcut(x) + conv3(relu(bn3(conv2(relu(bn2(conv1(relu(bn1(x))))))))), nothing after the
  addition.

The inner width is ``mid_channels`` (default out/4), the 3×3 is split into ``groups`` (ResNeXt,
Xie et al. 2017), and the stride sits on the first 1×1 (``stride_on="1x1"``, the seed, the
original ResNet) or on the 3×3 (``"3x3"``, He et al. 2016 and torchvision's "ResNet v1.5").
"""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import PositiveInt, validate_call
from torch import nn

from zoo.blocks.registry import blocks
from zoo.blocks.shortcuts import Projection, ShortcutKind, auto_shortcut, make_shortcut
from zoo.blocks.units import (
    DropRate,
    Order,
    Padding,
    make_activation,
    make_conv,
    make_drop_path,
    make_norm_act,
)

StrideOn = Literal["1x1", "3x3"]


class Bottleneck(nn.Module):
    """y = act(shortcut(x) + bn3(conv3(act(bn2(conv2(act(bn1(conv1(x))))))))): torchvision's."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        stride: int = 1,
        mid_channels: int,
        stride_on: StrideOn = "3x3",
        shortcut: ShortcutKind = "identity",
        groups: int = 1,
        bias: bool = True,
        activation: str | None = "relu",
        padding: Padding = "symmetric",
        drop_path: float = 0.0,
    ) -> None:
        super().__init__()
        stride1, stride2 = (stride, 1) if stride_on == "1x1" else (1, stride)
        self.conv1 = make_conv(in_channels, mid_channels, 1, stride1, bias, 1, padding)
        self.bn1 = nn.BatchNorm2d(mid_channels)
        self.act1 = make_activation(activation) or nn.Identity()
        self.conv2 = make_conv(mid_channels, mid_channels, 3, stride2, bias, groups, padding)
        self.bn2 = nn.BatchNorm2d(mid_channels)
        self.act2 = make_activation(activation) or nn.Identity()
        self.conv3 = make_conv(mid_channels, out_channels, 1, 1, bias, 1, padding)
        self.bn3 = nn.BatchNorm2d(out_channels)
        self.drop_path = make_drop_path(drop_path)
        self.shortcut = make_shortcut(shortcut, in_channels, out_channels, stride, bias=bias)
        self.act3 = make_activation(activation) or nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.act1(self.bn1(self.conv1(x)))
        out = self.act2(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        if self.drop_path is not None:
            out = self.drop_path(out)
        return self.act3(self.shortcut(x) + out)


class PreActBottleneck(nn.Module):
    """y = shortcut(x) + conv3(act(bn3(conv2(act(bn2(conv1(act(bn1(x))))))))): He et al. 2016.

    ``first_norm_act=False`` leaves out ``bn1`` and ``act1``: the seed's v2 starts its first
    bottleneck with a bare conv, right after a stem that ends in BN-ReLU."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        stride: int = 1,
        mid_channels: int,
        stride_on: StrideOn = "3x3",
        shortcut: ShortcutKind = "identity",
        groups: int = 1,
        bias: bool = True,
        activation: str | None = "relu",
        padding: Padding = "symmetric",
        first_norm_act: bool = True,
        drop_path: float = 0.0,
    ) -> None:
        super().__init__()
        stride1, stride2 = (stride, 1) if stride_on == "1x1" else (1, stride)
        self.bn1, self.act1 = make_norm_act(in_channels, activation, first_norm_act)
        self.conv1 = make_conv(in_channels, mid_channels, 1, stride1, bias, 1, padding)
        self.bn2, self.act2 = make_norm_act(mid_channels, activation)
        self.conv2 = make_conv(mid_channels, mid_channels, 3, stride2, bias, groups, padding)
        self.bn3, self.act3 = make_norm_act(mid_channels, activation)
        self.conv3 = make_conv(mid_channels, out_channels, 1, 1, bias, 1, padding)
        self.drop_path = make_drop_path(drop_path)
        self.shortcut = make_shortcut(shortcut, in_channels, out_channels, stride, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x if self.bn1 is None else self.act1(self.bn1(x))
        out = self.conv1(out)
        out = self.conv2(self.act2(self.bn2(out)))
        out = self.conv3(self.act3(self.bn3(out)))
        if self.drop_path is not None:
            out = self.drop_path(out)
        return self.shortcut(x) + out


@blocks.register("bottleneck")
@validate_call
def bottleneck(
    in_channels: PositiveInt,
    out_channels: PositiveInt,
    *,
    stride: PositiveInt = 1,
    order: Order = "pre",
    mid_channels: PositiveInt | None = None,
    stride_on: StrideOn = "3x3",
    bias: bool = True,
    activation: str | None = "relu",
    shortcut: Projection = "conv",
    first_norm_act: bool = True,
    groups: PositiveInt = 1,
    padding: Padding = "symmetric",
    drop_path: DropRate = 0.0,
) -> nn.Module:
    """The bottleneck, identity or ``shortcut`` projection by shape; ``order`` picks
    :class:`PreActBottleneck` (``pre``, the default) or :class:`Bottleneck` (``post``)."""
    options = {
        "stride": stride,
        "mid_channels": mid_channels or max(out_channels // 4, 1),
        "stride_on": stride_on,
        "shortcut": auto_shortcut(shortcut, in_channels, out_channels, stride),
        "groups": groups,
        "bias": bias,
        "activation": activation,
        "padding": padding,
        "drop_path": drop_path,
    }
    if order == "post":
        return Bottleneck(in_channels, out_channels, **options)
    return PreActBottleneck(in_channels, out_channels, first_norm_act=first_norm_act, **options)
