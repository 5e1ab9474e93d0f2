"""The basic residual block (two 3×3 convs) and the plain block (the same without a shortcut).

Four explicit classes, read top to bottom like torchvision's ``BasicBlock``:

- :class:`BasicBlock`: post-activation, ResNet v1 (He et al. 2015, Fig. 2; the seed's
  ``resnet_v1``): y = relu(shortcut(x) + bn2(conv2(relu(bn1(conv1(x)))))) — "Last ReLU is after
  the shortcut connection" (seed). With an identity shortcut this is seed eq. 10, x + F(x); with
  a projection the seed's second eq. 10, [Vx + b] + F(x).
- :class:`PreActBasicBlock`: pre-activation, ResNet v2 (He et al. 2016, Fig. 4(e)):
  y = shortcut(x) + conv2(relu(bn2(conv1(relu(bn1(x)))))), nothing after the addition.
- :class:`PlainBlock` and :class:`PreActPlainBlock`: the same two units without the shortcut,
  the plain nets of He et al. 2015 §4.2.

The registered factories ``basic``, ``identity_residual``, ``projection_residual`` and
``plain`` only validate their options and pick the class and the shortcut.
"""

from __future__ import annotations

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


class BasicBlock(nn.Module):
    """y = act(shortcut(x) + bn2(conv2(act(bn1(conv1(x)))))): ResNet v1's block (seed eq. 10)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        stride: int = 1,
        shortcut: ShortcutKind = "identity",
        kernel_size: int = 3,
        bias: bool = True,
        activation: str | None = "relu",
        padding: Padding = "symmetric",
        drop_path: float = 0.0,
    ) -> None:
        super().__init__()
        self.conv1 = make_conv(in_channels, out_channels, kernel_size, stride, bias, 1, padding)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.act1 = make_activation(activation) or nn.Identity()
        self.conv2 = make_conv(out_channels, out_channels, kernel_size, 1, bias, 1, padding)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.drop_path = make_drop_path(drop_path)
        self.shortcut = make_shortcut(shortcut, in_channels, out_channels, stride, bias=bias)
        self.act2 = make_activation(activation) or nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.act1(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.drop_path is not None:
            out = self.drop_path(out)
        return self.act2(self.shortcut(x) + out)


class PreActBasicBlock(nn.Module):
    """y = shortcut(x) + conv2(act(bn2(conv1(act(bn1(x)))))): He et al. 2016's basic block.

    ``first_norm_act=False`` leaves out ``bn1`` and ``act1``, for a block right after a stem that
    already ends in BN-ReLU (the seed's v2)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        stride: int = 1,
        shortcut: ShortcutKind = "identity",
        kernel_size: int = 3,
        bias: bool = True,
        activation: str | None = "relu",
        padding: Padding = "symmetric",
        first_norm_act: bool = True,
        drop_path: float = 0.0,
    ) -> None:
        super().__init__()
        self.bn1, self.act1 = make_norm_act(in_channels, activation, first_norm_act)
        self.conv1 = make_conv(in_channels, out_channels, kernel_size, stride, bias, 1, padding)
        self.bn2, self.act2 = make_norm_act(out_channels, activation)
        self.conv2 = make_conv(out_channels, out_channels, kernel_size, 1, bias, 1, padding)
        self.drop_path = make_drop_path(drop_path)
        self.shortcut = make_shortcut(shortcut, in_channels, out_channels, stride, bias=bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x if self.bn1 is None else self.act1(self.bn1(x))
        out = self.conv1(out)
        out = self.conv2(self.act2(self.bn2(out)))
        if self.drop_path is not None:
            out = self.drop_path(out)
        return self.shortcut(x) + out


class PlainBlock(nn.Module):
    """y = act(bn2(conv2(act(bn1(conv1(x)))))): a v1 basic block without its shortcut (He et
    al. 2015 §4.2, the plain nets of Fig. 6)."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        stride: int = 1,
        kernel_size: int = 3,
        bias: bool = True,
        activation: str | None = "relu",
        padding: Padding = "symmetric",
    ) -> None:
        super().__init__()
        self.conv1 = make_conv(in_channels, out_channels, kernel_size, stride, bias, 1, padding)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.act1 = make_activation(activation) or nn.Identity()
        self.conv2 = make_conv(out_channels, out_channels, kernel_size, 1, bias, 1, padding)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.act2 = make_activation(activation) or nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.act1(self.bn1(self.conv1(x)))
        return self.act2(self.bn2(self.conv2(out)))


class PreActPlainBlock(nn.Module):
    """y = conv2(act(bn2(conv1(act(bn1(x)))))): a pre-activation block without its shortcut."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        stride: int = 1,
        kernel_size: int = 3,
        bias: bool = True,
        activation: str | None = "relu",
        padding: Padding = "symmetric",
    ) -> None:
        super().__init__()
        self.bn1, self.act1 = make_norm_act(in_channels, activation)
        self.conv1 = make_conv(in_channels, out_channels, kernel_size, stride, bias, 1, padding)
        self.bn2, self.act2 = make_norm_act(out_channels, activation)
        self.conv2 = make_conv(out_channels, out_channels, kernel_size, 1, bias, 1, padding)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv1(self.act1(self.bn1(x)))
        return self.conv2(self.act2(self.bn2(out)))


def basic_block(
    in_channels: int,
    out_channels: int,
    *,
    stride: int,
    shortcut: ShortcutKind,
    order: Order,
    kernel_size: int,
    bias: bool,
    activation: str | None,
    padding: Padding,
    drop_path: float = 0.0,
) -> nn.Module:
    """The post- (v1) or pre-activation (v2) basic block with the given ``shortcut``."""
    block = BasicBlock if order == "post" else PreActBasicBlock
    return block(
        in_channels,
        out_channels,
        stride=stride,
        shortcut=shortcut,
        kernel_size=kernel_size,
        bias=bias,
        activation=activation,
        padding=padding,
        drop_path=drop_path,
    )


@blocks.register("basic")
@validate_call
def basic(
    in_channels: PositiveInt,
    out_channels: PositiveInt,
    *,
    stride: PositiveInt = 1,
    order: Order = "post",
    kernel_size: PositiveInt = 3,
    bias: bool = True,
    activation: str | None = "relu",
    shortcut: Projection = "conv",
    padding: Padding = "symmetric",
    drop_path: DropRate = 0.0,
) -> nn.Module:
    """The basic residual block: identity shortcut where the shape is kept (seed eq. 10), the
    ``shortcut`` projection where it changes (the seed's second eq. 10); He et al. 2015, Fig. 2,
    and torchvision's ``BasicBlock``."""
    return basic_block(
        in_channels,
        out_channels,
        stride=stride,
        shortcut=auto_shortcut(shortcut, in_channels, out_channels, stride),
        order=order,
        kernel_size=kernel_size,
        bias=bias,
        activation=activation,
        padding=padding,
        drop_path=drop_path,
    )


@blocks.register("identity_residual")
@validate_call
def identity_residual(
    in_channels: PositiveInt,
    out_channels: PositiveInt,
    *,
    stride: PositiveInt = 1,
    order: Order = "post",
    kernel_size: PositiveInt = 3,
    bias: bool = True,
    activation: str | None = "relu",
    padding: Padding = "symmetric",
    drop_path: DropRate = 0.0,
) -> nn.Module:
    """x = x + F(x) with F two ``kernel_size`` units (seed eq. 10); in = out and stride 1."""
    return basic_block(
        in_channels,
        out_channels,
        stride=stride,
        shortcut="identity",
        order=order,
        kernel_size=kernel_size,
        bias=bias,
        activation=activation,
        padding=padding,
        drop_path=drop_path,
    )


@blocks.register("projection_residual")
@validate_call
def projection_residual(
    in_channels: PositiveInt,
    out_channels: PositiveInt,
    *,
    stride: PositiveInt = 1,
    order: Order = "post",
    kernel_size: PositiveInt = 3,
    bias: bool = True,
    activation: str | None = "relu",
    shortcut: Projection = "conv",
    padding: Padding = "symmetric",
    drop_path: DropRate = 0.0,
) -> nn.Module:
    """x = [Vx + b] + F(x) (the seed's second eq. 10): always projected; zero_pad is option A."""
    return basic_block(
        in_channels,
        out_channels,
        stride=stride,
        shortcut=shortcut,
        order=order,
        kernel_size=kernel_size,
        bias=bias,
        activation=activation,
        padding=padding,
        drop_path=drop_path,
    )


@blocks.register("plain")
@validate_call
def plain(
    in_channels: PositiveInt,
    out_channels: PositiveInt,
    *,
    stride: PositiveInt = 1,
    order: Order = "post",
    kernel_size: PositiveInt = 3,
    bias: bool = True,
    activation: str | None = "relu",
    padding: Padding = "symmetric",
) -> nn.Module:
    """Two conv-BN-act units and no shortcut: the block of He et al. 2015's plain nets."""
    block = PlainBlock if order == "post" else PreActPlainBlock
    return block(
        in_channels,
        out_channels,
        stride=stride,
        kernel_size=kernel_size,
        bias=bias,
        activation=activation,
        padding=padding,
    )
