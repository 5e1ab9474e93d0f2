"""The shortcut branch of a residual block: identity, or a projection where the shape changes.

- ``identity``: x (seed eq. 10, x = x + F(x)).
- ``conv``: Vx + b, a strided 1×1 convolution with bias and no BN — the seed's "Bloque Residual
  Convolucional", x = [Vx + b] + F(x) (its second eq. 10).
- ``conv_bn``: a strided 1×1 convolution followed by BN (He et al. 2015 option B, torchvision).
- ``zero_pad``: He et al. 2015 option A — subsample by the stride, then zero-pad the new channels;
  it has no parameters.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from zoo.blocks.units import ConvNormAct
from zoo.errors import ZooError

Projection = Literal["conv", "conv_bn", "zero_pad"]
"""How a shortcut matches a changed shape."""

ShortcutKind = Literal["identity", "conv", "conv_bn", "zero_pad"]


class ZeroPadShortcut(nn.Module):
    """Option A of He et al. 2015: ``x[:, :, ::s, ::s]`` with zero channels appended."""

    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        if out_channels < in_channels:
            raise ZooError(
                f"a zero_pad shortcut can only add channels, not go {in_channels} → {out_channels}"
            )
        self.stride = stride
        self.extra_channels = out_channels - in_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x[:, :, :: self.stride, :: self.stride]
        return F.pad(x, (0, 0, 0, 0, 0, self.extra_channels))

    def extra_repr(self) -> str:
        return f"stride={self.stride}, extra_channels={self.extra_channels}"


def make_shortcut(
    kind: ShortcutKind, in_channels: int, out_channels: int, stride: int, *, bias: bool
) -> nn.Module:
    """The shortcut module of ``kind`` for a block mapping ``in_channels`` → ``out_channels``."""
    if kind == "identity":
        if in_channels != out_channels or stride != 1:
            raise ZooError(
                f"an identity shortcut cannot change the shape ({in_channels} → {out_channels} "
                f"channels, stride {stride}); use a projection: conv, conv_bn or zero_pad"
            )
        return nn.Identity()
    if kind == "zero_pad":
        return ZeroPadShortcut(in_channels, out_channels, stride)
    return ConvNormAct(
        in_channels,
        out_channels,
        kernel_size=1,
        stride=stride,
        bias=bias,
        norm=kind == "conv_bn",
        activation=None,
    )


def auto_shortcut(
    projection: Projection, in_channels: int, out_channels: int, stride: int
) -> ShortcutKind:
    """Identity where the shape is kept, else ``projection`` (the rule of both papers)."""
    return "identity" if in_channels == out_channels and stride == 1 else projection
