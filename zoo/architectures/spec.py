"""A network as data (:class:`NetworkSpec`) and the one builder that turns it into a module.

A spec is a stem block, a list of stages — each a paper stage of ``depth`` blocks of one
registered type, the first of them strided, optionally followed by a pool — and a head (global
pooling, optional hidden layers, a linear classifier ``fc``). Options shared by every block are
declared once on the network (``block_options``) and a stage may override them. It is what a
recipe's explicit ``[model]`` form spells out and what every architecture family produces; the
closest precedent is timm's ``byobnet`` block configs.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any, Literal

import torch
from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeInt,
    PositiveInt,
    ValidationError,
)
from torch import nn

from zoo.blocks import blocks
from zoo.blocks.units import make_activation
from zoo.errors import ZooError
from zoo.validation import check_keywords, keyword_options, raise_for

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


class PoolSpec(BaseModel):
    """A pooling layer after a stem or a stage: VGG's 2×2 max-pools, the ImageNet stem's 3×3/2
    max-pool with padding 1 (torchvision's ``ResNet.maxpool``)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["max", "avg"] = Field("max", description="max or average pooling")
    kernel_size: PositiveInt = Field(2, description="the pooling window")
    stride: PositiveInt | None = Field(None, description="default: the kernel size")
    padding: NonNegativeInt = Field(0, description="zero (or -inf) padding on each side")

    @property
    def step(self) -> int:
        return self.stride or self.kernel_size

    def build(self) -> nn.Module:
        pool = nn.MaxPool2d if self.kind == "max" else nn.AvgPool2d
        return pool(self.kernel_size, stride=self.step, padding=self.padding)


class BlockSpec(BaseModel):
    """One block: a registered block type, its output channels and stride, and its options.

    Any key besides the declared fields is an option passed to the factory.
    """

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    block: str = Field(description="a name from the block registry (`zoo list blocks`)")
    channels: PositiveInt = Field(description="output channels")
    stride: PositiveInt | None = Field(
        None,
        description="spatial stride of the (first) block; default the block's own (1)",
    )
    pool: PoolSpec | None = Field(None, description="pooling after the block or stage")

    @property
    def options(self) -> dict[str, Any]:
        """The block options: every key besides the declared fields."""
        return dict(self.model_extra or {})


class StageSpec(BlockSpec):
    """A paper stage: ``depth`` blocks of one type. The first block takes the stride and may
    change the channels; the shortcut of each block is chosen by its shape (timm's
    ``ByoBlockCfg``, torchvision's ``_make_layer``)."""

    depth: PositiveInt = Field(
        1,
        validation_alias=AliasChoices("depth", "repeat"),
        description="how many blocks (`repeat` is the old name)",
    )
    first_block: dict[str, Any] = Field(
        default_factory=dict, description="options for the stage's first block only"
    )


class HeadSpec(BaseModel):
    """The classifier: [BN-act] → global pooling → [hidden linear-act-dropout]* → [dropout] →
    ``fc``."""

    model_config = ConfigDict(extra="forbid")

    norm_act: bool = Field(
        False, description="BN and activation before pooling (pre-activation nets; seed v2)"
    )
    activation: str = Field("relu", description="activation of norm_act and hidden layers")
    pool: Literal["avg", "max"] = Field("avg", description="global pooling")
    pool_size: PositiveInt = Field(
        1, description="pooled size (torchvision's VGG pools to 7×7 before its classifier)"
    )
    hidden: list[PositiveInt] = Field(default_factory=list, description="hidden layer widths")
    dropout: float = Field(
        0.0, ge=0.0, lt=1.0, description="dropout after each hidden layer, or before fc"
    )


class NetworkSpec(BaseModel):
    """A whole network: ``in_channels`` → stem → stages → head → ``num_classes`` logits."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field("custom", description="a label for summaries")
    in_channels: PositiveInt = Field(3, description="image channels")
    num_classes: PositiveInt = Field(10, description="classifier outputs")
    input_size: tuple[PositiveInt, PositiveInt] = Field(
        (32, 32), description="the image height and width the network is made for"
    )
    stem: BlockSpec | None = Field(None, description="the first block, before the stages")
    stages: list[StageSpec] = Field(min_length=1, description="the paper's stages, in order")
    block_options: dict[str, Any] = Field(
        default_factory=dict,
        description="options of every stage's blocks (bias, order, activation...); a stage "
        "may override them (timm's block_kwargs)",
    )
    head: HeadSpec = Field(default_factory=HeadSpec, description="the classifier")
    init: Literal["he_normal", "torch", "torchvision"] = Field(
        "he_normal",
        description="weight init: Keras/the seed's he_normal, torch's defaults, or torchvision's "
        "ResNet/VGG init",
    )
    bn_momentum: float = Field(
        TORCH_BN_MOMENTUM,
        gt=0.0,
        lt=1.0,
        description="torch's BN momentum, the weight of a new batch (Keras' 0.99 is torch's 0.01)",
    )
    bn_eps: float = Field(TORCH_BN_EPS, gt=0.0, description="BN epsilon (Keras: 1e-3)")
    drop_path_rate: float = Field(
        0.0,
        ge=0.0,
        lt=1.0,
        description="stochastic depth: the last residual block's drop probability, the l-th of "
        "L blocks dropping with rate * l / L (Huang et al. 2016); 0 is off",
    )

    def stage_options(self, index: int) -> dict[str, Any]:
        """The options of stage ``index``'s blocks: the network's, overridden by the stage's."""
        return {**self.block_options, **self.stages[index].options}


class Head(nn.Module):
    """The classifier built from a :class:`HeadSpec`; its last layer is always ``fc``. Parts a
    spec does not ask for (``norm``, ``act``, ``hidden``, ``drop``) are absent, not identities,
    so that a summary lists only what runs."""

    def __init__(self, in_channels: int, num_classes: int, spec: HeadSpec) -> None:
        super().__init__()
        if spec.norm_act:
            self.norm = nn.BatchNorm2d(in_channels)
            self.act = make_activation(spec.activation) or nn.Identity()
        pool = nn.AdaptiveAvgPool2d if spec.pool == "avg" else nn.AdaptiveMaxPool2d
        self.pool = pool(spec.pool_size)
        self.flatten = nn.Flatten()
        features = in_channels * spec.pool_size**2
        hidden = []
        for width in spec.hidden:
            layer = OrderedDict(linear=nn.Linear(features, width))
            layer["act"] = make_activation(spec.activation) or nn.Identity()
            if spec.dropout:
                layer["drop"] = nn.Dropout(spec.dropout)
            hidden.append(nn.Sequential(layer))
            features = width
        if hidden:
            self.hidden = nn.Sequential(*hidden)
        elif spec.dropout:
            self.drop = nn.Dropout(spec.dropout)
        self.num_features = features
        self.fc: nn.Module = nn.Linear(features, num_classes) if num_classes else nn.Identity()

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """The pre-activation nets' final BN-ReLU: the end of their features (timm's
        ``forward_features``)."""
        if hasattr(self, "norm"):
            x = self.act(self.norm(x))
        return x

    def forward(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        x = self.flatten(self.pool(x))
        if hasattr(self, "hidden"):
            x = self.hidden(x)
        if hasattr(self, "drop"):
            x = self.drop(x)
        return x if pre_logits else self.fc(x)


class Network(nn.Module):
    """stem → stages → head. ``spec`` is kept so that a network can say what it is.

    It follows timm's model contract, so timm's tools and scripts can use it: ``num_features``,
    ``forward_features``, ``forward_head(x, pre_logits=False)``, ``reset_classifier(n)`` and
    ``feature_info`` (one entry per stage).
    """

    def __init__(self, spec: NetworkSpec, stem: nn.Module, stages: nn.Sequential, head: Head):
        super().__init__()
        self.spec = spec
        self.stem = stem
        self.stages = stages
        self.head = head
        self.feature_info = feature_info(spec)
        self.num_features = self.feature_info[-1]["num_chs"]
        self.head_hidden_size = head.num_features
        self.num_classes = spec.num_classes

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """The last stage's feature map (after the final BN-ReLU of pre-activation nets)."""
        return self.head.normalize(self.stages(self.stem(x)))

    def forward_head(self, x: torch.Tensor, pre_logits: bool = False) -> torch.Tensor:
        """Pooling, hidden layers and the classifier ``head.fc`` (not it, with ``pre_logits``)."""
        return self.head(x, pre_logits=pre_logits)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_head(self.forward_features(x))

    def get_classifier(self) -> nn.Module:
        return self.head.fc

    def reset_classifier(self, num_classes: int, global_pool: str | None = None) -> None:
        """A fresh ``head.fc`` for ``num_classes`` outputs (0: none, the pooled features are the
        output), as timm's models do; the spec follows."""
        if global_pool is not None and global_pool != self.spec.head.pool:
            raise ZooError(f"reset_classifier cannot change the pooling to {global_pool!r}")
        features = self.head.num_features
        self.head.fc = nn.Linear(features, num_classes) if num_classes else nn.Identity()
        self.num_classes = num_classes
        if num_classes:
            self.spec = self.spec.model_copy(update={"num_classes": num_classes})


class FeatureNetwork(nn.Module):
    """stem → stages, returning every stage's feature map: a backbone for detection or
    segmentation (timm's ``features_only=True``)."""

    def __init__(self, spec: NetworkSpec, stem: nn.Module, stages: nn.Sequential) -> None:
        super().__init__()
        self.spec = spec
        self.stem = stem
        self.stages = stages
        self.feature_info = feature_info(spec)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        features = []
        x = self.stem(x)
        for stage in self.stages:
            x = stage(x)
            features.append(x)
        return features


def feature_info(spec: NetworkSpec) -> list[dict[str, Any]]:
    """timm's ``feature_info``: each stage's output channels, its reduction of the input size
    (the product of the strides and pools so far) and its module name."""
    reduction = 1
    if spec.stem is not None:
        reduction *= (spec.stem.stride or 1) * (spec.stem.pool.step if spec.stem.pool else 1)
    info = []
    for index, stage in enumerate(spec.stages):
        reduction *= (stage.stride or 1) * (stage.pool.step if stage.pool else 1)
        info.append(
            {"num_chs": stage.channels, "reduction": reduction, "module": f"stages.{index}"}
        )
    return info


MAX_BLOCKS = 10_000
"""Blocks in a network: resnet1202_v1 has 601, so this is far beyond any published net; a
spec with more (a depth of 99,999,998 by name) is refused before anything is built."""


def build_network(spec: NetworkSpec, features_only: bool = False) -> nn.Module:
    """The one builder: a :class:`Network` from any spec, blocks looked up in the registry;
    with ``features_only``, a :class:`FeatureNetwork` of the stem and stages alone."""
    count = sum(stage.depth for stage in spec.stages) + (spec.stem is not None)
    if count > MAX_BLOCKS:
        raise ZooError(f"the network has {count:,} blocks; zoo builds at most {MAX_BLOCKS:,}")
    channels = spec.in_channels
    stem: nn.Module = nn.Identity()
    if spec.stem is not None:
        stem = _with_pool(
            build_block(spec.stem, channels, spec.stem.stride, "model.stem"), spec.stem.pool
        )
        channels = spec.stem.channels
    stages = []
    rates = iter(drop_rates(spec))
    for index, stage in enumerate(spec.stages):
        where = f"model.stages[{index}]"
        options = spec.stage_options(index)
        blocks_of_stage: dict[str, nn.Module] = {}
        for position in range(stage.depth):
            stride = stage.stride if position == 0 else 1
            first = stage.first_block if position == 0 else {}
            dropped = _drop_option(stage, next(rates), where)
            blocks_of_stage[str(position)] = build_block(
                stage, channels, stride, where, {**options, **first, **dropped}
            )
            channels = stage.channels
        if stage.pool is not None:
            blocks_of_stage["pool"] = stage.pool.build()
        stages.append(nn.Sequential(OrderedDict(blocks_of_stage)))
    if features_only:
        network: nn.Module = FeatureNetwork(spec, stem, nn.Sequential(*stages))
    else:
        head = Head(channels, spec.num_classes, spec.head)
        network = Network(spec, stem, nn.Sequential(*stages), head)
    initialize(network, spec.init)
    for module in network.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.momentum, module.eps = spec.bn_momentum, spec.bn_eps
    return network


def drop_rates(spec: NetworkSpec) -> list[float]:
    """Each stage block's stochastic-depth rate: Huang et al. 2016's linear decay rule, eq. 4,
    p_l = l / L · p_L for the l-th of L blocks (the deepest drops most, the first least)."""
    total = sum(stage.depth for stage in spec.stages)
    return [spec.drop_path_rate * block / total for block in range(1, total + 1)]


def _drop_option(stage: StageSpec, rate: float, where: str) -> dict[str, float]:
    """``drop_path`` for a block of ``stage``, whose factory must take it (a residual one)."""
    if rate == 0:
        return {}
    options = keyword_options(blocks.get(stage.block))
    if options is not None and "drop_path" not in options:
        raise ZooError(
            f"model.drop_path_rate: {where} has {stage.block!r} blocks, which have no residual "
            "branch to drop (stochastic depth needs basic, identity_residual, "
            "projection_residual or bottleneck blocks)"
        )
    return {"drop_path": rate}


def _with_pool(block: nn.Module, pool: PoolSpec | None) -> nn.Module:
    """The stem block, followed by its pool in one module (``stem.pool``)."""
    if pool is None:
        return block
    if isinstance(block, nn.Sequential) and "pool" not in dict(block.named_children()):
        block.add_module("pool", pool.build())
        return block
    return nn.Sequential(OrderedDict(block=block, pool=pool.build()))


def build_block(
    spec: BlockSpec,
    in_channels: int,
    stride: int | None,
    where: str,
    options: dict[str, Any] | None = None,
) -> nn.Module:
    """Call the registered factory of ``spec.block`` with ``options`` (default: the spec's own);
    errors name ``where`` in the recipe."""
    try:
        factory = blocks.get(spec.block)
    except ZooError as exc:
        raise ZooError(f"{where}.block: {exc}") from exc
    options = spec.options if options is None else options
    check_keywords(factory, options, where, fixed=type(spec).model_fields)
    try:
        strided = {} if stride is None else {"stride": stride}
        module = factory(in_channels, spec.channels, **strided, **options)
    except ValidationError as exc:
        raise_for(exc, f"{where} (block {spec.block!r})")
    except (ZooError, TypeError, ValueError) as exc:  # torch's own checks, e.g. of groups
        raise ZooError(f"{where} (block {spec.block!r}): {exc}") from exc
    if not isinstance(module, nn.Module):
        raise ZooError(
            f"{where}: block {spec.block!r} returned {type(module).__name__}, not a module"
        )
    return module


def initialize(network: nn.Module, init: str) -> None:
    """Initialise the weights as ``init`` says; ``torch`` keeps the layers' own defaults."""
    if init == "he_normal":
        he_normal_(network)
    elif init == "torchvision":
        torchvision_init_(network)


def torchvision_init_(network: nn.Module) -> None:
    """torchvision's ResNet and VGG init: He normal (fan-out) convs, BN 1 and 0, zero biases;
    linear layers keep torch's default (ResNet) — VGG's N(0, 0.01) only matters for training
    from scratch, and pretrained weights replace it."""
    for module in network.modules():
        weight = getattr(module, "weight", None)
        if not isinstance(weight, torch.Tensor) or weight.is_meta:
            continue
        if isinstance(module, nn.Conv2d):
            nn.init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
            if module.bias is not None:
                nn.init.zeros_(module.bias)
        elif isinstance(module, nn.modules.batchnorm._BatchNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)


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
