"""zoo: a model zoo of residual networks for CIFAR-style image classification.

The Python API mirrors the CLI, with one way to build a model by name::

    import zoo
    model = zoo.build_model("resnet56_v2", num_classes=100)
    spec = zoo.get_spec("resnet110_v1")      # the same network as data
    model = zoo.build_network(spec)          # any spec, edited or written by hand, as a module
    zoo.list_models("resnet*_v2")

The registries are ``zoo.blocks.blocks``, ``zoo.architectures.architectures``,
``zoo.architectures.presets`` and ``zoo.data.datasets``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import nn

from zoo.architectures import Network, NetworkSpec, build_network, presets, resolve
from zoo.architectures.create import model_by_name
from zoo.errors import CheckFailed, ZooError

__version__ = "0.1.0"


def get_spec(name: str, **params: Any) -> NetworkSpec:
    """The spec of a named model (``resnet110_v1``, ``resnet38_v1``, a family), with ``params``
    overriding the family's parameters."""
    return resolve(name).spec(**params)


def build_model(
    name: str, *, weights: str | Path | None = None, features_only: bool = False, **params: Any
) -> nn.Module:
    """The network of a named model (see :func:`get_spec`; also ``timm/NAME`` and
    ``torchvision/NAME``), freshly initialised or with ``weights``: a file (``.pth``, ``.pt``,
    ``.safetensors``, a zoo checkpoint or run directory), ``"torchvision"`` or a torchvision
    weights name such as ``"IMAGENET1K_V2"``. ``features_only=True`` gives the stem and stages
    alone, returning every stage's feature map.

    ``name`` may also be the ``.safetensors`` file of ``zoo export`` (with its JSON sidecar):
    the exported network with its weights, in eval mode."""
    if str(name).endswith(".safetensors"):
        from zoo.deploy.trained import load_exported

        if weights is not None or features_only or params:
            raise ZooError(f"{name}: an exported model is built as it was exported; no options")
        return load_exported(Path(name)).network.eval()
    return model_by_name(name, weights=weights, features_only=features_only, **params)


def list_models(pattern: str = "*") -> list[str]:
    """The documented presets whose names match a wildcard ``pattern``."""
    return presets.names(pattern)


__all__ = [
    "CheckFailed",
    "Network",
    "NetworkSpec",
    "ZooError",
    "build_model",
    "build_network",
    "get_spec",
    "list_models",
    "presets",
]
