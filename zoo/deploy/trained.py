"""A trained model outside its run: the network with the preprocessing its checkpoint records.

:func:`load_trained` reads any of what zoo writes — a run directory, ``best.pt``/``last.pt``, or
an exported ``.safetensors`` file with its JSON sidecar — into a :class:`TrainedModel`: the
network in eval mode, its class names, the image size it was trained at, and the normalisation
statistics fitted on its training data. ``zoo predict`` and ``zoo export`` start from it, so
both preprocess an image exactly as the network saw its training images.

:func:`image_size` is the one place that says at which size a checkpoint's network was trained.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from pydantic import ValidationError
from torch import Tensor, nn

from zoo.architectures import NetworkSpec, build_network
from zoo.architectures.external import default_input_size
from zoo.architectures.weights import fit_and_load
from zoo.deploy.metadata import Preprocessing, check_preprocessing
from zoo.errors import ZooError
from zoo.recipe import Recipe
from zoo.runs.layout import run_checkpoint
from zoo.runs.model import INFERENCE_KEYS, load_model, parse_recipe
from zoo.tensorfile import read_safetensors
from zoo.validation import first_problem

SIDECAR_FORMAT = "zoo-safetensors/1"
"""The ``format`` of the JSON sidecar :func:`zoo.deploy.export.export_safetensors` writes."""

FIXED_IMAGE_SIZES: Mapping[str, tuple[int, int]] = {
    "cifar10": (32, 32),
    "cifar100": (32, 32),
    "shapes": (32, 32),
}
"""Data sets whose images always have one size (CIFAR's 32×32; ``shapes`` is drawn at CIFAR's)."""


@dataclass
class TrainedModel:
    """A network in eval mode with what its inputs need: ``mean``/``std`` in [0, 1] units,
    broadcastable to an image ``(C, H, W)`` (per channel, or the seed's per-pixel mean image)."""

    network: nn.Module
    classes: list[str]
    image_size: tuple[int, int]
    mean: Tensor
    std: Tensor
    recipe: str
    """The run's resolved recipe as TOML ("" when it is not known)."""
    source: Path
    crop_ratio: float = 1.0
    """The share of the resized image the centre crop keeps (1: the image is only resized)."""

    @property
    def channels(self) -> int:
        """Image channels the network takes (3 for RGB, 1 for grayscale)."""
        return int(self.mean.shape[0])

    def metadata(self) -> dict[str, Any]:
        """Classes, image size, preprocessing and recipe as plain JSON data."""
        return {
            "classes": self.classes,
            "image_size": list(self.image_size),
            "preprocessing": {
                "input": f"{'RGB' if self.channels == 3 else 'grayscale'} in [0, 1]",
                "resize": "shorter side to the image size / crop_ratio (bilinear), centre crop",
                "crop_ratio": self.crop_ratio,
                "mean": self.mean.tolist(),
                "std": self.std.tolist(),
            },
            "recipe": self.recipe,
        }


def load_trained(
    path: Path, classes: Sequence[str] | None = None, device: str | torch.device = "cpu"
) -> TrainedModel:
    """The trained model at ``path``: a run directory, a zoo checkpoint, or an exported
    ``.safetensors`` file (or its ``.json`` sidecar). ``classes`` names the outputs of a
    checkpoint that records no class names (otherwise outputs are labelled by index)."""
    path = Path(path)
    if path.is_dir():
        path = run_checkpoint(path)
    if path.suffix in (".safetensors", ".json"):
        trained = load_exported(path)
    else:
        trained = _load_checkpoint(path, device)
    if classes is not None:
        trained.classes = list(classes)
    _check_classes(trained)
    trained.network.eval()
    return trained


def _load_checkpoint(path: Path, device: str | torch.device) -> TrainedModel:
    loaded = load_model(path, device, required=INFERENCE_KEYS)
    network, state = loaded.network, loaded.state
    classes = state.get("classes")
    if classes is None:
        count = _num_outputs(network)
        warnings.warn(
            f"{path} was written before zoo recorded class names; its {count} outputs are "
            "labelled by index (give --classes to name them)",
            stacklevel=2,
        )
        classes = [str(index) for index in range(count)]
    normalizer = state["normalizer"] if isinstance(state["normalizer"], dict) else {}
    checked = check_preprocessing(
        path,
        {"mean": "normalizer.mean", "std": "normalizer.std"},
        classes=classes,
        image_size=image_size(state, loaded.recipe),
        crop_ratio=1.0 if state.get("crop_ratio") is None else state["crop_ratio"],
        mean=normalizer.get("mean"),
        std=normalizer.get("std"),
    )
    return TrainedModel(network=network, recipe=state["recipe"], source=path, **_fields(checked))


def _fields(checked: Preprocessing) -> dict[str, Any]:
    return {
        "classes": list(checked.classes),
        "image_size": checked.image_size,
        "mean": checked.mean,
        "std": checked.std,
        "crop_ratio": checked.crop_ratio,
    }


def image_size(state: Mapping[str, Any], recipe: Any = None) -> Any:
    """``(H, W)`` a checkpoint's network was trained at.

    In order: the checkpoint's own ``image_size`` (``(H, W)`` or ``(C, H, W)``); the shape of a
    per-pixel mean image (``normalize = "pixel_mean"``); the data set's fixed size (CIFAR,
    shapes); for ``imagefolder`` the size of the first training image under the recipe's
    ``data.root``; else the size the network is made for, with a warning. ``recipe`` is the
    parsed recipe, if the caller has it already. A recorded size is returned as recorded (its
    last two entries), for :func:`~zoo.deploy.metadata.check_preprocessing` to judge."""
    recorded = state.get("image_size")
    if recorded is not None:
        return tuple(recorded[-2:]) if isinstance(recorded, list | tuple) else recorded
    mean = state.get("normalizer", {}).get("mean")
    if isinstance(mean, Tensor) and mean.dim() == 3 and mean.shape[1:] != (1, 1):
        return int(mean.shape[1]), int(mean.shape[2])
    recipe = recipe if recipe is not None else parse_recipe(state["recipe"], Path("checkpoint"))
    data = recipe.data
    if data.dataset in FIXED_IMAGE_SIZES:
        return FIXED_IMAGE_SIZES[data.dataset]
    if data.dataset == "imagefolder":
        size = first_image_size(data.root / "train")
        if size is not None:
            return size
    with torch.device("meta"):
        _, height, width = default_input_size(recipe.build(weights=False))
    warnings.warn(
        f"the checkpoint records no image size and its data set {data.dataset!r} cannot tell "
        f"it; using the network's {height}×{width}",
        stacklevel=2,
    )
    return height, width


def first_image_size(folder: Path) -> tuple[int, int] | None:
    """``(H, W)`` of the first image (in sorted order) under ``folder``, read from its header;
    None when there is none (all images of an ``imagefolder`` data set have one size)."""
    from PIL import Image
    from torchvision.datasets.folder import IMG_EXTENSIONS

    if not folder.is_dir():
        return None
    for path in sorted(folder.rglob("*")):
        if path.suffix.lower() in IMG_EXTENSIONS and path.is_file():
            try:
                with Image.open(path) as image:
                    width, height = image.size
            except (OSError, ValueError, SyntaxError):
                continue
            return height, width
    return None


def load_exported(path: Path) -> TrainedModel:
    """An exported ``.safetensors`` file and its JSON sidecar (either path may be given)."""
    weights, sidecar = path.with_suffix(".safetensors"), path.with_suffix(".json")
    for needed in (weights, sidecar):
        if not needed.is_file():
            raise ZooError(
                f"{needed}: no such file (zoo export writes FILE.safetensors and FILE.json)"
            )
    try:
        meta = json.loads(sidecar.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ZooError(f"{sidecar}: not JSON ({exc})") from exc
    if not isinstance(meta, dict) or meta.get("format") != SIDECAR_FORMAT:
        raise ZooError(f"{sidecar}: not a sidecar of zoo export (no format {SIDECAR_FORMAT!r})")
    preprocessing = meta.get("preprocessing")
    if not isinstance(preprocessing, dict):
        raise ZooError(f"{sidecar}: preprocessing: missing (a table of mean, std, crop_ratio)")
    checked = check_preprocessing(
        sidecar,
        {key: f"preprocessing.{key}" for key in ("mean", "std", "crop_ratio")},
        classes=meta.get("classes"),
        image_size=meta.get("image_size"),
        crop_ratio=preprocessing.get("crop_ratio", 1.0),
        mean=preprocessing.get("mean"),
        std=preprocessing.get("std"),
    )
    recipe = meta.get("recipe", "")
    network = build_from_sidecar(meta, sidecar)
    state = read_safetensors(weights)
    fit_and_load(network, state, str(weights), fresh_classifier=False)
    return TrainedModel(
        network=network,
        recipe=recipe if isinstance(recipe, str) else "",
        source=weights,
        **_fields(checked),
    )


def build_from_sidecar(meta: Mapping[str, Any], sidecar: Path) -> nn.Module:
    """The network a sidecar describes: its ``spec`` (zoo's networks), else its recipe's
    ``[model]`` table (timm's and torchvision's)."""
    try:
        if meta.get("spec") is not None:
            return build_network(NetworkSpec.model_validate(meta["spec"]))
        return Recipe.model_validate({"model": meta["model"]}).build(weights=False)
    except ValidationError as exc:
        message = first_problem(exc)[1]
        raise ZooError(f"{sidecar}: the network it describes is invalid: {message}") from None
    except (KeyError, TypeError, AttributeError) as exc:
        raise ZooError(
            f"{sidecar}: the network it describes is invalid (no spec or model: {exc})"
        ) from None


def _input_channels(network: nn.Module) -> int | None:
    """Channels of the network's first convolution (None for a network without one)."""
    first = next((m for m in network.modules() if isinstance(m, nn.Conv2d)), None)
    return None if first is None else first.in_channels


def _num_outputs(network: nn.Module) -> int:
    """Classifier outputs: ``num_classes`` (zoo's and timm's networks), else the last linear
    layer's (torchvision's)."""
    count = getattr(network, "num_classes", None)
    if isinstance(count, int):
        return count
    linears = [module for module in network.modules() if isinstance(module, nn.Linear)]
    if not linears:
        raise ZooError(f"cannot tell how many classes {type(network).__name__} has")
    return linears[-1].out_features


def _check_classes(trained: TrainedModel) -> None:
    """The class names must name the classifier's outputs, one each, and the normaliser's
    channels must be the network's input channels."""
    channels = _input_channels(trained.network)
    if channels is not None and channels != trained.channels:
        raise ZooError(
            f"{trained.source}: the normaliser has {trained.channels} channel"
            f"{'s' if trained.channels > 1 else ''} but the network takes {channels}"
        )
    count = _num_outputs(trained.network)
    if count != len(trained.classes):
        raise ZooError(
            f"{trained.source}: the network has {count} outputs but {len(trained.classes)} class "
            "names were given"
        )
