"""The one place that loads a model from a checkpoint: its recipe's network with its weights.

``zoo eval``, ``zoo predict``, ``zoo export`` and ``--resume`` all start here, so a checkpoint
whose recipe or weights are broken is the same one-line error everywhere. The network is built
from the checkpoint's own recipe without fetching its ``[model] weights``: the checkpoint holds
the trained ones. Checkpoints of zoo's earlier layouts are migrated as their weights load
(:func:`zoo.architectures.weights.fit_and_load`).
"""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from pydantic import ValidationError
from torch import nn

from zoo.architectures.weights import fit_and_load
from zoo.errors import ZooError
from zoo.recipe import Recipe
from zoo.runs.checkpoint import CHECKPOINT_KEYS, LEGACY_FORMAT, load_checkpoint
from zoo.runs.layout import run_checkpoint

INFERENCE_KEYS = ("format", "model", "recipe", "normalizer")
"""What inference needs of a checkpoint; ``classes`` may be missing (early checkpoints)."""


@dataclass
class CheckpointModel:
    """A checkpoint's network (weights loaded, in train mode as built), its parsed recipe and
    the checkpoint's other entries (``classes``, ``normalizer``, ``image_size``, …)."""

    network: nn.Module
    recipe: Recipe
    state: dict[str, Any]
    path: Path


def load_model(
    path: Path,
    device: torch.device | str = "cpu",
    *,
    required: Sequence[str] = CHECKPOINT_KEYS,
) -> CheckpointModel:
    """The model of the checkpoint at ``path`` (a run directory stands for its
    :func:`~zoo.runs.layout.run_checkpoint`), checked: ``required`` are the keys the caller
    needs (inference does without ``classes``)."""
    if path.is_dir():
        path = run_checkpoint(path)
    state = load_checkpoint(path, device, required=required)
    recipe = parse_recipe(state["recipe"], path)
    network = recipe.build(weights=False)  # the checkpoint holds the weights: nothing to fetch
    load_weights(network, state, path)
    return CheckpointModel(network, recipe, state, path)


def parse_recipe(text: str, path: Path) -> Recipe:
    """A checkpoint's stored recipe, validated; a broken one is one clear error."""
    try:
        return Recipe.model_validate(tomllib.loads(text))
    except (tomllib.TOMLDecodeError, ValidationError, TypeError) as exc:
        raise ZooError(f"{path}: the checkpoint's recipe is invalid ({exc})") from exc


def load_weights(model: nn.Module, state: dict[str, Any], path: Path) -> None:
    """Load a checkpoint's state dict whole, migrating earlier layouts; weights that do not fit
    the recipe's model are one clear error."""
    if not isinstance(state["model"], dict):
        raise ZooError(f"{path}: the checkpoint's model is not a state dict")
    legacy = state["format"] == LEGACY_FORMAT
    fit_and_load(model, state["model"], str(path), fresh_classifier=False, legacy=legacy)
