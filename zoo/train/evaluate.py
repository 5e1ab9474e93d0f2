"""``zoo eval``: a checkpoint's test loss and accuracy, optionally with flip test-time
augmentation. The checkpoint carries its recipe, classes and normalisation statistics, so
nothing else is needed but the data."""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import ValidationError

from zoo.data import Normalizer
from zoo.errors import ZooError
from zoo.recipe import Recipe
from zoo.train.checkpoint import load_checkpoint
from zoo.train.device import place
from zoo.train.loop import evaluate, evaluation_loader, load_splits


def evaluate_checkpoint(
    path: Path, data_root: Path | None = None, *, tta: bool = False
) -> tuple[float, float, str]:
    """(loss, accuracy, recipe name) of the checkpoint at ``path`` on its validation split."""
    state = load_checkpoint(path)
    try:
        recipe = Recipe.model_validate(tomllib.loads(state["recipe"]))
    except (KeyError, tomllib.TOMLDecodeError, ValidationError) as exc:
        raise ZooError(f"{path}: the checkpoint's recipe is missing or invalid ({exc})") from exc
    placement = place(recipe.train)
    model = recipe.build()
    model.load_state_dict(state["model"])
    model = model.to(placement.device, memory_format=placement.memory_format)
    splits = load_splits(recipe, data_root)
    if splits.classes != state["classes"]:
        raise ZooError(
            f"{path}: the checkpoint was trained on {len(state['classes'])} classes "
            f"{state['classes'][:3]}…, but the data has {splits.num_classes}"
        )
    normalizer = Normalizer(state["normalizer"]["mean"], state["normalizer"]["std"])
    loader = evaluation_loader(splits, normalizer, placement, recipe.train.batch_size)
    loss, accuracy = evaluate(model, loader, placement, tta=tta)
    return loss, accuracy, recipe.name
