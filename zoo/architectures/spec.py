"""A network as data (:class:`NetworkSpec`) and the one builder that turns it into a module.

A spec is a stem block, a list of stages — each a run of ``repeat`` blocks of one registered type,
the first of them strided — and a head (global pooling, optional hidden layers, a linear
classifier). It is what a recipe's explicit ``[model]`` form spells out and what every
architecture family produces; the closest precedent is timm's ``byobnet`` block configs.
"""

from __future__ import annotations

from typing import Any, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field, PositiveInt, ValidationError
from torch import nn

from zoo.blocks import blocks
from zoo.blocks.units import make_activation
from zoo.errors import ZooError
from zoo.validation import check_keywords, raise_for

HE_NORMAL_SCALE = 2.0
"""Keras ``he_normal`` = VarianceScaling(scale=2, mode="fan_in", truncated normal): the seed's
``kernel_initializer`` for every conv and the classifier (He et al. 2015b, eq. 10)."""

TRUNCATED_NORMAL_STD = 0.87962566103423978
"""The standard deviation of a unit normal truncated to ±2: Keras divides by it so that the
truncated samples keep the intended variance."""


TORCH_BN_MOMENTUM, TORCH_BN_EPS = 0.1, 1e-5
"""torch's BatchNorm defaults (and He et al.'s Torch 7 code's)."""

KERAS_BN_MOMENTUM, KERAS_BN_EPS = 0.01, 1e-3
"""Keras' BatchNormalization(momentum=0.99, epsilon=1e-3), in torch's convention."""


class BlockSpec(BaseModel):
    """One block: a registered block type, its output channels and stride, and its options.

    Any key besides ``block``, ``channels`` and ``stride`` is an option passed to the factory.
    """

    model_config = ConfigDict(extra="allow")

    block: str = Field(description="a name from the block registry (`zoo list blocks`)")
    channels: PositiveInt = Field(description="output channels")
    stride: PositiveInt | None = Field(
        None,
        description="spatial stride of the first block of a stage; default the block's own "
        "(1, or 2 for max_pool)",
    )

    @property
    def options(self) -> dict[str, Any]:
        """The block options: every key besides the three fields."""
        return dict(self.model_extra or {})


class StageSpec(BlockSpec):
    """``repeat`` blocks of one type; only the first is strided and may change the channels."""

    repeat: PositiveInt = Field(1, description="how many blocks")


class HeadSpec(BaseModel):
    """The classifier: [BN-act] → global pooling → [hidden linear-act-dropout]* → linear."""

    model_config = ConfigDict(extra="forbid")

    norm_act: bool = Field(
        False, description="BN and activation before pooling (pre-activation nets; seed v2)"
    )
    activation: str = Field("relu", description="activation of norm_act and hidden layers")
    pool: Literal["avg", "max"] = Field("avg", description="global pooling")
    hidden: list[PositiveInt] = Field(default_factory=list, description="hidden layer widths")
    dropout: float = Field(0.0, ge=0.0, lt=1.0, description="dropout before each linear layer")


class NetworkSpec(BaseModel):
    """A whole network: ``in_channels`` → stem → stages → head → ``num_classes`` logits."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field("custom", description="a label for summaries")
    in_channels: PositiveInt = Field(3, description="image channels")
    num_classes: PositiveInt = Field(10, description="classifier outputs")
    stem: BlockSpec | None = Field(None, description="the first block, before the stages")
    stages: list[StageSpec] = Field(min_length=1, description="runs of blocks, in order")
    head: HeadSpec = Field(default_factory=HeadSpec, description="the classifier")
    init: Literal["he_normal", "torch"] = Field(
        "he_normal", description="weight init: Keras/the seed's he_normal, or torch's defaults"
    )
    bn_momentum: float = Field(
        TORCH_BN_MOMENTUM,
        gt=0.0,
        lt=1.0,
        description="torch's BN momentum, the weight of a new batch (Keras' 0.99 is torch's 0.01)",
    )
    bn_eps: float = Field(TORCH_BN_EPS, gt=0.0, description="BN epsilon (Keras: 1e-3)")


class Head(nn.Sequential):
    """The classifier built from a :class:`HeadSpec`."""

    def __init__(self, in_channels: int, num_classes: int, spec: HeadSpec) -> None:
        layers: list[nn.Module] = []
        if spec.norm_act:
            layers += [nn.BatchNorm2d(in_channels), make_activation(spec.activation)]
        pool = nn.AdaptiveAvgPool2d(1) if spec.pool == "avg" else nn.AdaptiveMaxPool2d(1)
        layers += [pool, nn.Flatten()]
        features = in_channels
        for width in spec.hidden:
            layers += _dropout(spec.dropout)
            layers += [nn.Linear(features, width), make_activation(spec.activation)]
            features = width
        layers += _dropout(spec.dropout)
        layers.append(nn.Linear(features, num_classes))
        super().__init__(*layers)


def _dropout(rate: float) -> list[nn.Module]:
    return [nn.Dropout(rate)] if rate > 0 else []


class Network(nn.Module):
    """stem → stages → head. ``spec`` is kept so that a network can say what it is."""

    def __init__(self, spec: NetworkSpec, stem: nn.Module, stages: nn.Sequential, head: Head):
        super().__init__()
        self.spec = spec
        self.stem = stem
        self.stages = stages
        self.head = head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.stages(self.stem(x)))


def build_network(spec: NetworkSpec) -> Network:
    """The one builder: a :class:`Network` from any spec, blocks looked up in the registry."""
    channels = spec.in_channels
    stem: nn.Module = nn.Identity()
    if spec.stem is not None:
        stem = build_block(spec.stem, channels, spec.stem.stride, "model.stem")
        channels = spec.stem.channels
    stages = []
    for index, stage in enumerate(spec.stages):
        run = []
        for position in range(stage.repeat):
            stride = stage.stride if position == 0 else 1
            run.append(build_block(stage, channels, stride, f"model.stages[{index}]"))
            channels = stage.channels
        stages.append(nn.Sequential(*run))
    network = Network(
        spec, stem, nn.Sequential(*stages), Head(channels, spec.num_classes, spec.head)
    )
    if spec.init == "he_normal":
        he_normal_(network)
    for module in network.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.momentum, module.eps = spec.bn_momentum, spec.bn_eps
    return network


def build_block(spec: BlockSpec, in_channels: int, stride: int | None, where: str) -> nn.Module:
    """Call the registered factory of ``spec.block``; errors name ``where`` in the recipe."""
    try:
        factory = blocks.get(spec.block)
    except ZooError as exc:
        raise ZooError(f"{where}.block: {exc}") from exc
    check_keywords(factory, spec.options, where, fixed=type(spec).model_fields)
    try:
        strided = {} if stride is None else {"stride": stride}
        module = factory(in_channels, spec.channels, **strided, **spec.options)
    except ValidationError as exc:
        raise_for(exc, f"{where} (block {spec.block!r})")
    except ZooError as exc:
        raise ZooError(f"{where} (block {spec.block!r}): {exc}") from exc
    if not isinstance(module, nn.Module):
        raise ZooError(
            f"{where}: block {spec.block!r} returned {type(module).__name__}, not a module"
        )
    return module


def he_normal_(network: nn.Module) -> None:
    """Keras ``he_normal`` for conv and linear weights, zero biases (the seed's initialisers).

    Weights on the meta device hold no values, so there is nothing to initialise."""
    for module in network.modules():
        if isinstance(module, nn.Conv2d | nn.Linear) and not module.weight.is_meta:
            fan_in = module.weight[0].numel()
            std = (HE_NORMAL_SCALE / fan_in) ** 0.5 / TRUNCATED_NORMAL_STD
            nn.init.trunc_normal_(module.weight, std=std, a=-2 * std, b=2 * std)
            if module.bias is not None:
                nn.init.zeros_(module.bias)
