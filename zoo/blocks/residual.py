"""Residual blocks: a body of conv-norm-act units plus one shortcut, added (seed eq. 10).

One :class:`Residual` module and one :func:`residual_block` builder serve all three residual
block types; they differ only in the units of the body and the shortcut choice:

- ``identity_residual``: x = x + F(x), F two 3×3 units (seed eq. 10). The shape must not change.
- ``projection_residual``: x = [Vx + b] + F(x) (the seed's second eq. 10), for where the shape
  changes; V a strided 1×1 conv as in the seed, or option A's zero padding.
- ``basic``: the basic block of He et al. 2015, Fig. 2 (torchvision's ``BasicBlock``): two 3×3
  units, with an identity shortcut where the shape is kept and a projection where it changes.
  This is what a stage of ResNet v1 is made of: its first block takes the stride.
- ``bottleneck``: a 1×1 → 3×3 → 1×1 body (He et al. 2015 §4.1; the seed's ``resnet_v2``), with an
  identity shortcut where the shape is kept and a projection where it changes. ``groups`` and
  ``mid_channels`` make it ResNeXt's and Wide ResNet's block.

With ``order="post"`` (ResNet v1) the last unit has no activation and the activation follows the
addition: "Last ReLU is after the shortcut connection" (seed ``resnet_v1``). With ``order="pre"``
(ResNet v2, He et al. 2016) every unit is BN → activation → conv and nothing follows the addition.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from pydantic import PositiveInt, validate_call
from torch import nn

from zoo.blocks.registry import blocks
from zoo.blocks.shortcuts import Projection, ShortcutKind, auto_shortcut, make_shortcut
from zoo.blocks.units import ConvNormAct, Order, Padding, make_activation


class Residual(nn.Module):
    """``activation(shortcut(x) + body(x))``; ``activation`` is absent for pre-activation blocks."""

    def __init__(self, body: nn.Module, shortcut: nn.Module, activation: nn.Module | None) -> None:
        super().__init__()
        self.body = body
        self.shortcut = shortcut
        self.act = activation if activation is not None else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.shortcut(x) + self.body(x))


def residual_block(
    in_channels: int,
    out_channels: int,
    *,
    stride: int,
    widths: Sequence[int],
    kernel_sizes: Sequence[int],
    stride_index: int,
    shortcut: ShortcutKind,
    order: Order,
    bias: bool,
    activation: str | None,
    first_norm_act: bool = True,
    groups: int = 1,
    padding: Padding = "symmetric",
) -> Residual:
    """A body of units of ``widths`` and ``kernel_sizes`` (the ``stride_index``-th one strided,
    the spatial ones split into ``groups``), plus the ``shortcut``. ``first_norm_act=False`` drops
    the first pre-activation unit's BN and activation, as the seed's v2 does right after a stem
    that already ends in BN-ReLU."""
    units = []
    channels = in_channels
    for index, (width, kernel_size) in enumerate(zip(widths, kernel_sizes, strict=True)):
        last = index == len(widths) - 1
        bare = order == "pre" and index == 0 and not first_norm_act
        units.append(
            ConvNormAct(
                channels,
                width,
                kernel_size=kernel_size,
                stride=stride if index == stride_index else 1,
                bias=bias,
                norm=not bare,
                activation=None if bare or (order == "post" and last) else activation,
                order=order,
                groups=groups if kernel_size > 1 else 1,
                padding=padding,
            )
        )
        channels = width
    after_add = make_activation(activation) if order == "post" else None
    return Residual(
        nn.Sequential(*units),
        make_shortcut(shortcut, in_channels, out_channels, stride, bias=bias),
        after_add,
    )


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
) -> Residual:
    """Two ``kernel_size`` units of ``out_channels`` plus ``shortcut`` (He et al. 2015, Fig. 2)."""
    return residual_block(
        in_channels,
        out_channels,
        stride=stride,
        widths=(out_channels, out_channels),
        kernel_sizes=(kernel_size, kernel_size),
        stride_index=0,
        shortcut=shortcut,
        order=order,
        bias=bias,
        activation=activation,
        padding=padding,
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
) -> nn.Module:
    """The basic residual block: two units, identity or projection shortcut by shape.

    x + F(x) where the shape is kept (seed eq. 10), the ``shortcut`` projection where it changes
    (the seed's second eq. 10); He et al. 2015, Fig. 2, and torchvision's ``BasicBlock``."""
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
    )


@blocks.register("bottleneck")
@validate_call
def bottleneck(
    in_channels: PositiveInt,
    out_channels: PositiveInt,
    *,
    stride: PositiveInt = 1,
    order: Order = "pre",
    mid_channels: PositiveInt | None = None,
    stride_on: Literal["1x1", "3x3"] = "3x3",
    bias: bool = True,
    activation: str | None = "relu",
    shortcut: Projection = "conv",
    first_norm_act: bool = True,
    groups: PositiveInt = 1,
    padding: Padding = "symmetric",
) -> nn.Module:
    """1×1 → 3×3 → 1×1 units, identity or projection shortcut by shape.

    ``mid_channels`` (default out/4) inside, the 3×3 split in ``groups`` (ResNeXt). The seed
    strides the first 1×1 (``stride_on="1x1"``); He et al. 2016 and torchvision stride the 3×3."""
    mid = mid_channels or max(out_channels // 4, 1)
    return residual_block(
        in_channels,
        out_channels,
        stride=stride,
        widths=(mid, mid, out_channels),
        kernel_sizes=(1, 3, 1),
        stride_index=0 if stride_on == "1x1" else 1,
        shortcut=auto_shortcut(shortcut, in_channels, out_channels, stride),
        order=order,
        bias=bias,
        activation=activation,
        first_norm_act=first_norm_act,
        groups=groups,
        padding=padding,
    )
