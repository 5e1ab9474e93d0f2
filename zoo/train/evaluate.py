"""``zoo eval``: a checkpoint's validation loss and accuracy, optionally with flip test-time
augmentation. The checkpoint carries its recipe, classes and normalisation statistics, so
nothing else is needed but the data."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from zoo.data import Normalizer
from zoo.errors import ZooError
from zoo.recipe import Recipe
from zoo.train.checkpoint import load_checkpoint
from zoo.train.device import place
from zoo.train.loaders import evaluation_loader, load_splits
from zoo.train.objective import evaluate
from zoo.train.state import load_weights


@dataclass(frozen=True)
class Evaluation:
    """A checkpoint's loss and accuracy on one split of its data set."""

    name: str
    split: str
    loss: float
    accuracy: float


def evaluate_checkpoint(
    path: Path, data_root: Path | None = None, *, tta: bool = False
) -> Evaluation:
    """Evaluate the checkpoint at ``path`` on the split its run validated on: the test set, or
    the held-out part of the training set when the recipe sets ``data.val_split``."""
    state = load_checkpoint(path)
    try:
        recipe = Recipe.model_validate(tomllib.loads(state["recipe"]))
    except (tomllib.TOMLDecodeError, ValidationError) as exc:
        raise ZooError(f"{path}: the checkpoint's recipe is invalid ({exc})") from exc
    placement = place(recipe.train)
    model = recipe.build(weights=False)  # the checkpoint holds the weights
    load_weights(model, state, path)
    model = model.to(placement.device, memory_format=placement.memory_format)
    splits = load_splits(recipe, data_root)
    if splits.classes != state["classes"]:
        raise ZooError(
            f"{path}: the checkpoint was trained on {len(state['classes'])} classes "
            f"{state['classes'][:3]}…, but the data has {splits.num_classes}"
        )
    normalizer = Normalizer(state["normalizer"]["mean"], state["normalizer"]["std"])
    loader = evaluation_loader(splits, normalizer, placement, recipe.data)
    loss, accuracy = evaluate(model, loader, placement, tta=tta)
    split = "validation" if recipe.data.val_split == 0 else "held-out validation"
    return Evaluation(recipe.name, split, loss, accuracy)
