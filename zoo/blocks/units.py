"""The conv-norm-activation unit every built-in block is made of: the seed's ``resnet_layer``.

The seed's ``resnet_layer(num_filters, kernel_size, strides, activation, batch_normalization,
conv_first)`` is conv → BN → activation when ``conv_first`` (post-activation, ResNet v1) and
BN → activation → conv otherwise (pre-activation, ResNet v2, He et al. 2016). Each of the three
parts can be switched off. The seed's eqs. (1)–(7) are the conv, the batch normalisation and the
activation; its convolutions use ``padding="same"`` and carry a bias.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Annotated, Literal

from pydantic import Field, PositiveInt, validate_call
from torch import nn

from zoo.blocks.registry import blocks
from zoo.errors import ZooError

Order = Literal["post", "pre"]
"""``post``: conv → norm → act (v1, the seed's ``conv_first=True``); ``pre``: norm → act → conv."""

Padding = Literal["symmetric", "same"]
"""How a conv pads: ``symmetric``, k//2 on every side (PyTorch's, the papers' and torchvision's);
``same``, as TensorFlow/Keras' ``padding="same"`` computes it: out = ceil(in / stride), with the
odd pixel of padding at the bottom and right. The two differ only for a strided conv on an even
size — a stride-2 3×3 conv on 32×32 pads (0, 1) with ``same`` — which is where the seed's
ResNet v1 sees its input shifted by one pixel against a symmetric port."""

DropRate = Annotated[float, Field(ge=0.0, lt=1.0)]
"""A stochastic-depth drop probability (Huang et al. 2016): 0 keeps every residual branch."""


TORCH_ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "relu6": nn.ReLU6,
    "leaky_relu": nn.LeakyReLU,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "mish": nn.Mish,
    "hard_swish": nn.Hardswish,
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
}
"""The common activations, straight from torch.nn. Other names are looked up in timm, which is
imported only then: importing timm takes seconds, which every ``zoo`` command would pay."""

IN_PLACE = frozenset({nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.ELU, nn.SiLU, nn.Mish, nn.Hardswish})


NO_ACTIVATION = "none"
"""The name for no activation, which TOML (having no null) can write; None means the same."""


def make_activation(name: str | None, inplace: bool = True) -> nn.Module | None:
    """An activation module by name (``relu``, ``silu``, any timm name); None for ``none``.
    ``inplace`` only where the input is a fresh tensor nobody else reads (after a norm)."""
    if name is None or name == NO_ACTIVATION:
        return None
    if name in TORCH_ACTIVATIONS:
        layer = TORCH_ACTIVATIONS[name]
        return layer(inplace=True) if inplace and layer in IN_PLACE else layer()
    from timm.layers import create_act_layer

    try:
        return create_act_layer(name, inplace=inplace)
    except KeyError as exc:
        known = ", ".join(TORCH_ACTIVATIONS)
        raise ZooError(f"unknown activation {name!r}; try {known} or another timm name") from exc


class ConvNormAct(nn.Sequential):
    """conv → BN → activation, or BN → activation → conv (the seed's ``resnet_layer``).

    ``groups`` splits the conv into grouped convolutions (ResNeXt, Xie et al. 2017). Children
    are named ``conv``, ``norm`` and ``act`` so that a summary shows what each is. With
    ``order="pre"`` the norm sees the *input* channels, as in the seed's v2.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        kernel_size: int = 3,
        stride: int = 1,
        bias: bool = True,
        norm: bool = True,
        activation: str | None = "relu",
        order: Order = "post",
        groups: int = 1,
        padding: Padding = "symmetric",
    ) -> None:
        if kernel_size % 2 == 0:
            raise ZooError(
                f"kernel_size must be odd to keep the size (padding k//2), got {kernel_size}"
            )
        conv = make_conv(in_channels, out_channels, kernel_size, stride, bias, groups, padding)
        norm_channels = out_channels if order == "post" else in_channels
        parts: dict[str, nn.Module] = {}
        if order == "pre":
            parts |= _norm_act(norm_channels, norm, activation)
            parts["conv"] = conv
        else:
            parts["conv"] = conv
            parts |= _norm_act(norm_channels, norm, activation)
        super().__init__(OrderedDict(parts))


def make_conv(
    in_channels: int,
    out_channels: int,
    kernel_size: int,
    stride: int,
    bias: bool,
    groups: int,
    padding: Padding,
) -> nn.Conv2d:
    """A conv with ``padding``. Where ``same`` and symmetric padding agree (stride 1, odd
    kernel) it is a plain ``nn.Conv2d``; a strided ``same`` conv is timm's ``Conv2dSame``, which
    pads as TensorFlow does for each input size (and is an ``nn.Conv2d``, with its names)."""
    if padding == "same" and stride > 1:
        from timm.layers import create_conv2d  # seconds: import only where it is needed

        return create_conv2d(
            in_channels,
            out_channels,
            kernel_size,
            stride=stride,
            padding="same",
            bias=bias,
            groups=groups,
        )
    return nn.Conv2d(
        in_channels,
        out_channels,
        kernel_size,
        stride=stride,
        padding=kernel_size // 2,
        bias=bias,
        groups=groups,
    )


def make_norm_act(
    channels: int, activation: str | None, enabled: bool = True
) -> tuple[nn.BatchNorm2d | None, nn.Module | None]:
    """The BN → activation pair that opens a pre-activation unit (He et al. 2016); both None
    when not ``enabled`` (a block right after a stem that ends in BN-ReLU: the seed's v2)."""
    if not enabled:
        return None, None
    return nn.BatchNorm2d(channels), make_activation(activation) or nn.Identity()


def _norm_act(channels: int, norm: bool, activation: str | None) -> dict[str, nn.Module]:
    parts: dict[str, nn.Module] = {}
    if norm:
        parts["norm"] = nn.BatchNorm2d(channels)
    act = make_activation(activation, inplace=norm)  # without a norm it would overwrite its input
    if act is not None:
        parts["act"] = act
    return parts


@blocks.register("conv_bn_relu")
@validate_call
def conv_bn_relu(
    in_channels: PositiveInt,
    out_channels: PositiveInt,
    *,
    stride: PositiveInt = 1,
    kernel_size: PositiveInt = 3,
    bias: bool = True,
    norm: bool = True,
    activation: str | None = "relu",
    order: Order = "post",
    padding: Padding = "symmetric",
) -> nn.Module:
    """The seed's ``resnet_layer``: one conv with optional BN and activation, in either order."""
    return ConvNormAct(
        in_channels,
        out_channels,
        kernel_size=kernel_size,
        stride=stride,
        bias=bias,
        norm=norm,
        activation=activation,
        order=order,
        padding=padding,
    )


@blocks.register("max_pool")
@validate_call
def max_pool(
    in_channels: PositiveInt, out_channels: PositiveInt, *, stride: PositiveInt = 2
) -> nn.Module:
    """A ``stride``×``stride`` max pooling as a block (a stage's ``pool`` is the usual place)."""
    if in_channels != out_channels:
        raise ZooError(
            f"max_pool keeps the channel count, but was asked for {in_channels} → {out_channels}"
        )
    return nn.MaxPool2d(kernel_size=stride, stride=stride)


def make_drop_path(rate: float) -> nn.Module | None:
    """timm's ``DropPath`` for a residual branch: in training, each sample's branch is dropped
    with probability ``rate`` and the kept ones scaled by 1 / (1 - rate), so the expectation is
    unchanged (Huang et al. 2016, eq. 2, as timm implements it); in eval it passes through. None
    for a rate of 0: no module, so networks without stochastic depth are as before."""
    if rate == 0:
        return None
    from timm.layers import DropPath

    return DropPath(rate)
