"""Architectures: family factories that turn parameters into a :class:`NetworkSpec`, presets
that name parameter sets, and the one builder that turns a spec into a module."""

from zoo.architectures import plain, resnet, resnet_imagenet, vgg  # noqa: F401  (importing registers the built-ins)
from zoo.architectures.names import Preset, presets, resolve
from zoo.architectures.registry import architectures
from zoo.architectures.spec import (
    BlockSpec,
    FeatureNetwork,
    HeadSpec,
    Network,
    NetworkSpec,
    PoolSpec,
    StageSpec,
    build_network,
)

__all__ = [
    "BlockSpec",
    "FeatureNetwork",
    "HeadSpec",
    "Network",
    "NetworkSpec",
    "PoolSpec",
    "Preset",
    "StageSpec",
    "architectures",
    "build_network",
    "presets",
    "resolve",
]
