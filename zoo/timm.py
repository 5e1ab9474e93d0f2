"""zoo's networks inside timm: ``import zoo.timm`` registers every documented preset with timm's
model registry as ``zoo_<name>``.

Then ``timm.create_model("zoo_resnet56_v2", num_classes=100)`` and ``timm.list_models("zoo_*")``
work, and so do timm's own scripts (``train.py --model zoo_resnet20_v1``). timm's keyword
arguments are translated to the preset's parameters: ``in_chans`` → ``in_channels``,
``num_classes``, ``drop_rate`` → the head's dropout, ``global_pool`` (``avg`` or ``max``),
``bn_momentum`` and ``bn_eps``; ``features_only=True`` gives the per-stage feature maps.
``pretrained=True`` loads a weights file named by ``pretrained_cfg_overlay=dict(file=PATH)``:
zoo publishes no weights of its own.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import timm.models
from torch import nn

from zoo.architectures import NetworkSpec, build_network, presets
from zoo.architectures.weights import load_weights
from zoo.errors import ZooError

PREFIX = "zoo_"

TIMM_TO_HEAD = {"drop_rate": "dropout", "global_pool": "pool"}
TIMM_TO_NETWORK = {"in_chans": "in_channels", "num_classes": "num_classes"}
TIMM_TO_SPEC = {"bn_momentum": "bn_momentum", "bn_eps": "bn_eps"}
IGNORED_WHEN_ZERO = ("drop_path_rate", "drop_block_rate")
"""timm's regularisers that zoo's blocks do not have: accepted only when they are off."""

TIMM_BOOKKEEPING = ("pretrained_cfg", "cache_dir")
"""Keywords timm passes to every entry point for its own loading of pretrained weights."""

default_cfgs: dict[str, dict[str, Any]] = {}
"""timm's pretrained configs of the registered names, read by ``register_model``."""


def create(name: str, pretrained: bool = False, **kwargs: Any) -> nn.Module:
    """Build the zoo preset ``name`` from timm's keyword arguments."""
    for unused in TIMM_BOOKKEEPING:
        kwargs.pop(unused, None)
    overlay = kwargs.pop("pretrained_cfg_overlay", None) or {}
    features_only = kwargs.pop("features_only", False)
    network_params = {
        TIMM_TO_NETWORK[k]: kwargs.pop(k) for k in list(kwargs) if k in TIMM_TO_NETWORK
    }
    head = {TIMM_TO_HEAD[k]: kwargs.pop(k) for k in list(kwargs) if k in TIMM_TO_HEAD}
    spec_fields = {TIMM_TO_SPEC[k]: kwargs.pop(k) for k in list(kwargs) if k in TIMM_TO_SPEC}
    for key in IGNORED_WHEN_ZERO:
        if kwargs.get(key) in (0, 0.0, None):
            kwargs.pop(key, None)
    if kwargs:
        raise TypeError(f"{PREFIX}{name} does not take {', '.join(sorted(kwargs))}")
    spec = presets.get(name).spec(**network_params)
    spec = spec.model_copy(
        update={**spec_fields, "head": spec.head.model_copy(update=head)}, deep=True
    )
    network = build_network(type(spec).model_validate(spec.model_dump()), features_only)
    if pretrained:
        if "file" not in overlay:
            raise ZooError(
                f"{PREFIX}{name}: zoo publishes no pretrained weights; pass "
                "pretrained_cfg_overlay=dict(file=PATH) with a weights file or checkpoint"
            )
        load_weights(network, overlay["file"], name)
    network.pretrained_cfg = {**default_cfgs[PREFIX + name], **_input_of(spec)}
    return network


def _entry_point(name: str) -> Callable[..., nn.Module]:
    def entry(pretrained: bool = False, **kwargs: Any) -> nn.Module:
        return create(name, pretrained, **kwargs)

    entry.__name__ = entry.__qualname__ = PREFIX + name
    entry.__module__ = __name__
    entry.__doc__ = f"zoo's {name}: {presets.get(name).description}."
    return entry


def _input_of(spec: NetworkSpec) -> dict[str, Any]:
    return {"num_classes": spec.num_classes, "input_size": (spec.in_channels, *spec.input_size)}


def _pretrained_cfg(name: str) -> dict[str, Any]:
    spec = presets.get(name).spec()
    return {"url": "", "classifier": "head.fc", "first_conv": "stem.conv", **_input_of(spec)}


def register_all() -> list[str]:
    """Register every documented preset with timm (once); returns the timm names."""
    module = sys.modules[__name__]
    names = []
    for name in presets.names():
        timm_name = PREFIX + name
        if timm_name not in timm.models.list_models(timm_name):
            default_cfgs[timm_name] = _pretrained_cfg(name)
            entry = _entry_point(name)
            setattr(module, timm_name, entry)
            timm.models.register_model(entry)
        names.append(timm_name)
    return names


register_all()
