"""Weights from elsewhere: files, zoo runs and torchvision's published weights, fitted to a network.

``weights=`` (Python) and ``[model] weights`` (recipes) take

- a path: a state dict in a ``.pth``/``.pt`` file (torchvision's, or anyone's), a zoo checkpoint
  (``best.pt``, ``last.pt``), a run directory (its ``best.pt``), or a ``.safetensors`` file;
- the seed's Keras files (``.keras``, ``.h5``, ``.weights.h5``; :mod:`zoo.architectures.keras`);
- ``"torchvision"`` (the network's default torchvision weights) or a torchvision weights name,
  ``"IMAGENET1K_V2"`` or ``"ResNet50_Weights.IMAGENET1K_V2"``: downloaded from torchvision's URL
  into torch.hub's cache with its hash checked, or read from that cache when already there.

Only tensors are ever read: ``torch.load(weights_only=True)`` or safetensors, never pickled code.
A state dict is then fitted to the network's names (design.md, "Network anatomy"): torchvision's
``conv1``/``layerN``/``downsample``/``fc`` and ``features``/``classifier`` names, and the layout
of zoo checkpoints written before stages were the papers' stages, are renamed to ``stem``,
``stages.N`` and ``head``. A classifier of another class count is left fresh, and one line says so.
"""

from __future__ import annotations

import contextlib
import io
import re
import tomllib
import urllib.error
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from zoo.architectures.keras import is_keras_file, keras_state_dict
from zoo.errors import ZooError
from zoo.runs.checkpoint import LEGACY_FORMAT
from zoo.runs.layout import run_checkpoint
from zoo.tensorfile import load_tensors, read_safetensors

TORCHVISION = "torchvision"
"""The weights source that means "the network's default torchvision weights"."""

CLASSIFIER = "head.fc."
"""Every zoo network's classifier (design.md, "Network anatomy")."""

BATCH_COUNTER = "num_batches_tracked"
"""BN's count of training batches: not a weight, and absent from Keras files."""

StateDict = dict[str, torch.Tensor]


def load_weights(network: nn.Module, source: str | Path, model_name: str) -> None:
    """Load the weights ``source`` names into ``network`` (built as ``model_name``)."""
    path = Path(str(source)).expanduser()
    if is_keras_file(path) and path.is_file():
        fit_and_load(network, keras_state_dict(path, network), str(path))
        return
    if isinstance(source, Path) or looks_like_path(str(source)):
        state, legacy = read_file(path)
        try:
            fit_and_load(network, state, str(path), legacy=legacy)
        except ZooError as exc:
            trained_as = run_model_name(path)
            if trained_as is None:
                raise
            raise ZooError(f"{exc}; it holds a zoo run of {trained_as}") from exc
        return
    fit_and_load(network, download_torchvision(model_name, str(source)), f"{model_name} weights")


TORCHVISION_WEIGHTS_NAME = re.compile(r"(?:\w+_Weights\.)?[A-Z0-9_]+|torchvision")
"""``IMAGENET1K_V2``, ``ResNet50_Weights.IMAGENET1K_V2`` or ``torchvision``."""


TIMM = "timm"
"""The weights source that means "timm's pretrained weights" (``timm/NAME`` models)."""


def is_weights_name(text: str) -> bool:
    """Whether a weights source names published weights (``torchvision``, ``timm`` or a
    torchvision weights name) rather than a file."""
    return text == TIMM or TORCHVISION_WEIGHTS_NAME.fullmatch(text) is not None


def looks_like_path(text: str) -> bool:
    """Whether a weights source is a file (anything but a torchvision weights name)."""
    return not TORCHVISION_WEIGHTS_NAME.fullmatch(text) or Path(text).exists()


def run_model_name(path: Path) -> str | None:
    """The model a zoo run directory or checkpoint was trained as (its recipe's ``[model]``
    preset or family), or None for other files."""
    if path.is_dir():
        path = run_checkpoint(path)
    if path.suffix == ".safetensors":
        return None
    try:
        recipe = tomllib.loads(load_tensors(path).get("recipe", ""))
    except (ZooError, AttributeError, TypeError, tomllib.TOMLDecodeError):
        return None
    model = recipe.get("model")
    if isinstance(model, dict):
        model = model.get("preset") or model.get("arch")
    return model if isinstance(model, str) else None


def read_file(path: Path) -> tuple[StateDict, bool]:
    """A state dict from a file or a run directory, reading tensors only, and whether it is a
    zoo checkpoint of format 1 (the layout before paper stages)."""
    if path.is_dir():
        path = run_checkpoint(path)
    if not path.is_file():
        raise ZooError(f"{path}: no such weights file")
    if path.suffix == ".safetensors":
        return read_safetensors(path), False
    loaded = load_tensors(path)
    legacy = isinstance(loaded, Mapping) and loaded.get("format") == LEGACY_FORMAT
    return state_dict_of(loaded, path), legacy


def state_dict_of(loaded: Any, path: Path) -> StateDict:
    """The tensors of a loaded file: a bare state dict, or one under ``model`` (zoo's
    checkpoints) or ``state_dict`` (many training scripts)."""
    if isinstance(loaded, Mapping):
        for key in ("model", "state_dict"):
            if isinstance(loaded.get(key), Mapping):
                loaded = loaded[key]
                break
    if not isinstance(loaded, Mapping) or not loaded:
        raise ZooError(f"{path}: holds no state dict (a mapping of names to tensors)")
    tensors = {key: value for key, value in loaded.items() if isinstance(value, torch.Tensor)}
    if len(tensors) != len(loaded):
        raise ZooError(f"{path}: a state dict holds names to tensors only; this one does not")
    return tensors


def download_torchvision(model_name: str, weights_name: str) -> StateDict:
    """torchvision's weights ``weights_name`` for the torchvision network ``model_name``,
    through torch.hub's cache; offline, one line says where to put the file."""
    from torchvision.models import get_model_weights

    try:
        enum = get_model_weights(model_name)
    except ValueError as exc:
        raise ZooError(
            f"weights {weights_name!r}: {model_name} is not a torchvision network, so it has no "
            "torchvision weights; give a file path instead"
        ) from exc
    short = weights_name.split(".")[-1]
    if weights_name == TORCHVISION:
        weights = enum.DEFAULT
    elif short in enum.__members__:
        weights = enum[short]
    else:
        known = ", ".join(["torchvision", *enum.__members__])
        raise ZooError(f"unknown weights {weights_name!r} for {model_name}; known: {known}")
    hub_file = Path(torch.hub.get_dir()) / "checkpoints" / Path(weights.url).name
    try:
        with contextlib.redirect_stderr(io.StringIO()):  # torch.hub's "Downloading: …" line
            return torch.hub.load_state_dict_from_url(
                weights.url, progress=False, check_hash=True, weights_only=True
            )
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ZooError(
            f"cannot download {weights.url} ({reason}); download it elsewhere and put it at "
            f"{hub_file}, or pass the file's path as the weights"
        ) from exc
    except RuntimeError as exc:  # a hash mismatch or a truncated download
        raise ZooError(f"{weights.url}: {exc}; delete {hub_file} and try again") from exc


def fit_and_load(
    network: nn.Module,
    state: Mapping[str, torch.Tensor],
    where: str,
    fresh_classifier: bool = True,
    legacy: bool = False,
) -> None:
    """Rename ``state`` to the network's names (``legacy``: from a format-1 zoo checkpoint),
    keep a fresh classifier where the class counts differ (unless ``fresh_classifier`` is off: a
    checkpoint resumed must fit whole), drop the head for a feature backbone, and load it;
    weights that do not fit are one clear error naming ``where``."""
    expected = network.state_dict()
    state = fit_names(state, expected, where, legacy)
    if not any(key.startswith("head.") for key in expected):
        state = {key: value for key, value in state.items() if not key.startswith("head.")}
    body = {key: value for key, value in state.items() if not key.startswith(CLASSIFIER)}
    problems = _mismatches(body if fresh_classifier else state, expected)
    if problems:
        raise ZooError(f"{where}: the weights do not fit {_name(network)} ({problems})")
    if fresh_classifier:
        state = _fresh_classifier(state, expected, where)
    problems = _mismatches(state, expected)
    if problems:
        raise ZooError(f"{where}: the weights do not fit {_name(network)} ({problems})")
    missing = [
        key
        for key in network.load_state_dict(state, strict=False).missing_keys
        if not key.startswith(CLASSIFIER) and not key.endswith(BATCH_COUNTER)
    ]
    if missing:
        raise ZooError(f"{where}: the weights do not fit {_name(network)} (missing {missing[0]})")


def _name(network: nn.Module) -> str:
    spec = getattr(network, "spec", None)
    return getattr(spec, "name", type(network).__name__)


def fit_names(
    state: Mapping[str, torch.Tensor], expected: Mapping[str, Any], where: str, legacy: bool
) -> StateDict:
    """``state`` under the network's names: torchvision's layouts, and (``legacy``) zoo's
    layout before paper stages, are renamed; any other layout is left for the fit check."""
    if all(key in expected for key in state):
        return dict(state)
    if "conv1.weight" in state and any(key.startswith("layer1.") for key in state):
        return {rename_torchvision_resnet(key): value for key, value in state.items()}
    if any(key.startswith("features.") for key in state):
        numbered = dict(sorted(state.items(), key=lambda item: _numbers_first(item[0])))
        return rename_in_order(numbered, expected, ("features.", "classifier."))
    if legacy:
        renamed = rename_in_order(state, expected, ("stages.", "head."))
        if set(renamed) == set(expected) and set(renamed) != set(state):
            warnings.warn(
                f"{where}: migrated the weights from zoo's layout before paper stages "
                "(stages.N and head.fc names); save them again to keep the new names",
                stacklevel=2,
            )
        return renamed
    return migrate_block_names(state, expected)


def migrate_block_names(
    state: Mapping[str, torch.Tensor], expected: Mapping[str, Any]
) -> StateDict:
    """A zoo state dict written before blocks were explicit classes, under today's names:
    ``body.N.conv``/``body.N.norm`` become ``conv{N+1}``/``bn{N+1}``, and a plain net's
    conv-BN-ReLU units (two a block now) are matched in order. Any other layout is left as it
    is for the fit check."""
    renamed = {rename_unit_blocks(key): value for key, value in state.items()}
    if not all(key in expected for key in renamed):
        in_order = rename_in_order(renamed, expected, ("stages.",), targets=("stages.",))
        if all(key in expected for key in in_order):
            renamed = in_order
    return renamed


TORCHVISION_RESNET_NAMES = [
    (re.compile(r"^conv1\."), "stem.conv."),
    (re.compile(r"^bn1\."), "stem.norm."),
    (re.compile(r"^layer(\d+)\.(\d+)\.downsample\.0\."), "stages.{0}.{1}.shortcut.conv."),
    (re.compile(r"^layer(\d+)\.(\d+)\.downsample\.1\."), "stages.{0}.{1}.shortcut.norm."),
    (re.compile(r"^layer(\d+)\.(\d+)\."), "stages.{0}.{1}."),
    (re.compile(r"^fc\."), "head.fc."),
]
"""torchvision's ResNet names (``layer1`` … ``layer4``, ``downsample``) and zoo's (0-based
stages); inside a block both say ``conv1``/``bn1`` … ``conv3``/``bn3``."""


def rename_torchvision_resnet(key: str) -> str:
    """``layer2.0.downsample.1.weight`` → ``stages.1.0.shortcut.norm.weight``."""
    for pattern, template in TORCHVISION_RESNET_NAMES:
        match = pattern.match(key)
        if match:
            numbers = [int(group) for group in match.groups()]
            if numbers:  # torchvision counts layers from 1, zoo's stages from 0
                numbers[0] -= 1
            return template.format(*numbers) + key[match.end() :]
    return key


UNIT_BLOCK_NAMES = re.compile(r"\.body\.(\d+)\.(conv|norm)\.")
"""zoo's block layers before blocks were explicit classes: ``body.N.conv``/``body.N.norm``."""


def rename_unit_blocks(key: str) -> str:
    """``stages.0.1.body.2.norm.weight`` → ``stages.0.1.bn3.weight`` (the N-th unit's conv and
    norm are the block's ``conv{N+1}`` and ``bn{N+1}``)."""

    def explicit(match: re.Match[str]) -> str:
        layer = "conv" if match[2] == "conv" else "bn"
        return f".{layer}{int(match[1]) + 1}."

    return UNIT_BLOCK_NAMES.sub(explicit, key)


def rename_in_order(
    state: Mapping[str, torch.Tensor],
    expected: Mapping[str, Any],
    prefixes: Iterable[str],
    targets: tuple[str, ...] = ("stages.", "head."),
) -> StateDict:
    """Rename layers that hold the same tensors in the same order under other names:
    torchvision's ``features.N``/``classifier.N`` (VGG), zoo's stages and head before paper
    stages, and a plain net's units before plain blocks. Each source layer (the name less its
    last part) under ``prefixes`` maps to the network's layer under ``targets`` at the same
    place (both in their modules' order); a layout with another number of layers is left as it
    is for the fit check."""
    prefixes = tuple(prefixes)
    source = _layers(key for key in state if key.startswith(prefixes))
    target = _layers(key for key in expected if key.startswith(targets))
    if len(source) != len(target):
        return dict(state)
    names = dict(zip(source, target, strict=True))
    renamed: StateDict = {}
    for key, value in state.items():
        layer, _, leaf = key.rpartition(".")
        renamed[f"{names[layer]}.{leaf}" if layer in names else key] = value
    return renamed


def _numbers_first(key: str) -> tuple[Any, ...]:
    """Sort key for torchvision's VGG names: ``features`` before ``classifier``, ``features.10``
    after ``features.2`` (a safetensors file lists its names sorted as text)."""
    parts = tuple((0, int(part)) if part.isdigit() else (1, part) for part in key.split("."))
    return (not key.startswith("features."), *parts)


def _layers(keys: Iterable[str]) -> list[str]:
    """The distinct layer names of state-dict keys, in the order a state dict lists them: the
    order its modules were registered in, which is the order they run in."""
    return list(dict.fromkeys(key.rpartition(".")[0] for key in keys))


def _fresh_classifier(state: StateDict, expected: Mapping[str, Any], where: str) -> StateDict:
    """Drop a classifier whose class count differs from the network's, and say so."""
    weight = CLASSIFIER + "weight"
    if weight not in state or weight not in expected:
        return state
    theirs, ours = state[weight].shape, expected[weight].shape
    if theirs == ours or theirs[1:] != ours[1:]:
        return state
    warnings.warn(
        f"{where}: the weights have {theirs[0]} classes and the network {ours[0]}: the "
        "classifier head.fc starts fresh, everything else is loaded",
        stacklevel=3,
    )
    return {key: value for key, value in state.items() if not key.startswith(CLASSIFIER)}


def _mismatches(state: Mapping[str, torch.Tensor], expected: Mapping[str, Any]) -> str:
    """What keeps ``state`` from loading, in a few words; empty if it fits."""
    unexpected = [key for key in state if key not in expected]
    if unexpected:
        return f"{len(unexpected)} unknown names, e.g. {unexpected[0]}"
    for key, value in state.items():
        if value.shape != expected[key].shape:
            return f"{key} is {tuple(value.shape)}, the network's {tuple(expected[key].shape)}"
    return ""
