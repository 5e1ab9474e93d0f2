"""A model by name: zoo's presets and families, or ``timm/``/``torchvision/`` models, freshly
initialised or with weights, whole or as a feature backbone. The public way to ask for one is
:func:`zoo.build_model`, which also opens an exported ``.safetensors`` file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import nn

from zoo.architectures.external import build_external, is_external
from zoo.architectures.names import resolve
from zoo.architectures.spec import NetworkSpec, build_network
from zoo.architectures.weights import load_weights


def model_by_name(
    name: str,
    *,
    weights: str | Path | None = None,
    features_only: bool = False,
    **params: Any,
) -> nn.Module:
    """The model ``name`` with ``params`` (``num_classes=100``...) and ``weights`` (a file, a run
    directory, ``"torchvision"`` or a torchvision weights name; ``"timm"`` for timm models)."""
    if is_external(name):
        return build_external(
            name, None if weights is None else str(weights), features_only, **params
        )
    return build_with_weights(resolve(name).spec(**params), weights, features_only, name)


def build_with_weights(
    spec: NetworkSpec, weights: str | Path | None, features_only: bool, model_name: str
) -> nn.Module:
    """The network of ``spec``, with ``weights`` loaded (torchvision names refer to
    ``model_name``, the name the network was asked for)."""
    network = build_network(spec, features_only=features_only)
    if weights is not None:
        load_weights(network, weights, model_name)
    return network
