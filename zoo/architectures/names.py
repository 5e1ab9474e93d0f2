"""Named models: presets (named parameter sets of a family) and names built from a pattern.

``resnet110_v1`` is ``resnet_v1(depth=110)``; ``resnet110_v1_paper`` adds He et al. 2015's
choices (no conv bias, option A shortcuts); ``resnet164_v2_paper`` He et al. 2016's (bottleneck
widths 16/32/64, no conv bias, a bare stem conv, the stride on the 3×3). Any valid depth works
by name (``resnet38_v1``, ``resnet47_v2``, ``plain74``); the listed presets are the documented
ones.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from zoo.architectures.depth import NINE_N_PLUS_TWO, SIX_N_PLUS_TWO, STAGES
from zoo.architectures.registry import architectures
from zoo.architectures.spec import TORCH_BN_EPS, TORCH_BN_MOMENTUM, NetworkSpec
from zoo.errors import UnknownNameError, ZooError
from zoo.registry import Registry
from zoo.validation import check_keywords, raise_for

TORCH_BN: Mapping[str, Any] = {"bn_momentum": TORCH_BN_MOMENTUM, "bn_eps": TORCH_BN_EPS}
"""The papers' Torch 7 batch norm (torch's defaults), where the seed's presets use Keras'."""

V1_PAPER: Mapping[str, Any] = {
    "bias": False,
    "shortcut": "zero_pad",
    "padding": "symmetric",
    **TORCH_BN,
}
"""He et al. 2015, Table 6: no conv bias (BN follows), option A shortcuts, Torch's symmetric
padding."""

V2_PAPER: Mapping[str, Any] = {
    "bias": False,
    "mid_channels": (16, 32, 64),
    "stem_norm_act": False,
    "stride_on": "3x3",
    "padding": "symmetric",
    **TORCH_BN,
}
"""He et al. 2016: bottleneck widths 16/32/64 (×4 out), no conv bias, bare stem, 3×3 stride."""


VGG_CIFAR: Mapping[str, Any] = {
    "num_classes": 10,
    "hidden": (512, 512),
    "pool_size": 1,
    "input_size": (32, 32),
    "init": "he_normal",
}
"""zoo's CIFAR VGG: pools to 1×1×512, two hidden layers of 512, the seed's init."""

TORCHVISION_RESNETS: Mapping[str, Mapping[str, Any]] = {
    "resnet18": {"layers": (2, 2, 2, 2), "block": "basic"},
    "resnet34": {"layers": (3, 4, 6, 3), "block": "basic"},
    "resnet50": {"layers": (3, 4, 6, 3), "block": "bottleneck"},
    "resnet101": {"layers": (3, 4, 23, 3), "block": "bottleneck"},
    "resnet152": {"layers": (3, 8, 36, 3), "block": "bottleneck"},
    "resnext50_32x4d": {
        "layers": (3, 4, 6, 3),
        "block": "bottleneck",
        "groups": 32,
        "width_per_group": 4,
    },
    "resnext101_32x8d": {
        "layers": (3, 4, 23, 3),
        "block": "bottleneck",
        "groups": 32,
        "width_per_group": 8,
    },
    "resnext101_64x4d": {
        "layers": (3, 4, 23, 3),
        "block": "bottleneck",
        "groups": 64,
        "width_per_group": 4,
    },
    "wide_resnet50_2": {"layers": (3, 4, 6, 3), "block": "bottleneck", "width_per_group": 128},
    "wide_resnet101_2": {"layers": (3, 4, 23, 3), "block": "bottleneck", "width_per_group": 128},
}
"""torchvision's ResNet builders (``torchvision.models.resnet``), by their names."""


@dataclass(frozen=True)
class Preset:
    """A named model: an architecture family and its parameters."""

    name: str
    arch: str
    params: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""

    def spec(self, where: str | None = None, **overrides: Any) -> NetworkSpec:
        """The network spec, with ``overrides`` (e.g. ``num_classes=100``) on the parameters;
        ``where`` is the key path errors name (default: the preset and its family)."""
        return make_spec(self.arch, {**self.params, **overrides}, self.name, where)


presets: Registry[Preset] = Registry("model")

NAME_PATTERNS: list[tuple[re.Pattern[str], str, Mapping[str, Any], str]] = [
    (re.compile(r"resnet(\d+)_v1"), "resnet_v1", {}, "ResNet v1, the seed's Keras definition"),
    (re.compile(r"resnet(\d+)_v1_paper"), "resnet_v1", V1_PAPER, "ResNet v1, He et al. 2015"),
    (re.compile(r"resnet(\d+)_v2"), "resnet_v2", {}, "ResNet v2, the seed's Keras definition"),
    (re.compile(r"resnet(\d+)_v2_paper"), "resnet_v2", V2_PAPER, "ResNet v2, He et al. 2016"),
    (re.compile(r"plain(\d+)"), "plain", {}, "plain net, ResNet v1 without shortcuts"),
    (re.compile(r"vgg(\d+)"), "vgg", {"batch_norm": False}, "VGG, torchvision's network"),
    (re.compile(r"vgg(\d+)_bn"), "vgg", {}, "VGG with BN, torchvision's network"),
    (re.compile(r"vgg(\d+)_cifar"), "vgg", VGG_CIFAR, "VGG with BN, CIFAR head"),
]
"""Names that resolve to a family and a depth, in the form of the documented presets."""

DOCUMENTED = {
    "resnet{}_v1": (20, 32, 44, 56, 110, 164, 1202),
    "resnet{}_v2": (20, 29, 56, 110, 164, 1001),
    "resnet{}_v1_paper": (20, 32, 44, 56, 110, 1202),
    "resnet{}_v2_paper": (164, 1001),
    "plain{}": (20, 32, 44, 56, 110),
    "vgg{}_cifar": (11, 13, 16, 19),
    "vgg{}": (11, 13, 16, 19),
    "vgg{}_bn": (11, 13, 16, 19),
}
"""The presets `zoo list` and `zoo audit` show: the seed's table, the papers', VGG and (below)
torchvision's ResNets."""


def resolve(name: str) -> Preset:
    """The preset for a model name, a pattern name, or a family name (its defaults)."""
    if name in presets:
        return presets.get(name)
    for pattern, arch, params, description in NAME_PATTERNS:
        match = pattern.fullmatch(name)
        if match:
            return Preset(name, arch, {**params, "depth": int(match[1])}, description)
    if name in architectures:
        return Preset(name, name, {}, "the family's defaults")
    families = tuple(architectures.names())
    raise UnknownNameError(presets.unknown_name_message(name, extra_names=families))


NETWORK_OPTIONS = ("drop_path_rate",)
"""Keys of any family's spec, set on the spec its factory returns (no factory takes them)."""


def make_spec(
    arch: str, params: Mapping[str, Any], name: str, where: str | None = None
) -> NetworkSpec:
    """Call the family factory ``arch`` with ``params``. Errors name the parameter under
    ``where``: a recipe passes its key path (``model``), the default names the model."""
    factory = architectures.get(arch)
    key_path = where is not None
    where = where or f"{name} (architecture {arch!r})"
    params = dict(params)
    network_options = {key: params.pop(key) for key in NETWORK_OPTIONS if key in params}
    check_keywords(factory, params, where)
    try:
        spec = factory(**params)
    except ValidationError as exc:
        raise_for(exc, where, joiner="." if key_path else ": ")
    except (TypeError, ValueError) as exc:  # a plugin factory without pydantic validation
        raise ZooError(f"{where}: {exc}") from exc
    except ZooError as exc:  # the family's own rule, e.g. the depth: say where in the recipe
        if not key_path:
            raise
        raise ZooError(f"{where}: {exc}") from exc
    if not isinstance(spec, NetworkSpec):
        raise ZooError(f"{where}: the factory returned {type(spec).__name__}, not a NetworkSpec")
    if not network_options:
        return spec.model_copy(update={"name": name})
    try:  # validated: model_copy would take a drop_path_rate of 7 as it is
        return NetworkSpec.model_validate(spec.model_dump() | network_options | {"name": name})
    except ValidationError as exc:
        raise_for(exc, where, joiner="." if key_path else ": ")


def formula_depth(arch: str, spec: NetworkSpec) -> tuple[str, int] | None:
    """The depth a built-in family's formula gives for ``spec``, counted from its stages."""
    blocks = sum(stage.depth for stage in spec.stages)
    if arch == "resnet":
        convs = 2 if spec.stages[0].block == "basic" else 3
        return f"{convs}·{blocks}+2", convs * blocks + 2
    if arch in ("resnet_v1", "plain"):
        n = blocks // STAGES  # a plain block holds two convolutions, as a basic block does
        return f"6n+2, n={n}", SIX_N_PLUS_TWO.depth(n)
    if arch == "resnet_v2":
        n = blocks // STAGES
        return f"9n+2, n={n}", NINE_N_PLUS_TWO.depth(n)
    if arch == "vgg":
        linear = len(spec.head.hidden) + 1
        return f"{blocks} conv + {linear} linear", blocks + linear
    return None


def _register_documented() -> None:
    for template, depths in DOCUMENTED.items():
        for depth in depths:
            preset = resolve(template.format(depth))
            presets.add(preset.name, preset)
    for name, params in TORCHVISION_RESNETS.items():
        kind = "ResNeXt" if "resnext" in name else "Wide ResNet" if "wide" in name else "ResNet"
        description = f"{kind}, torchvision's network (ImageNet, 224×224)"
        presets.add(name, Preset(name, "resnet", params, description))


_register_documented()
