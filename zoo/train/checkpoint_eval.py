"""``zoo eval``: a checkpoint's validation loss and accuracy, optionally with flip test-time
augmentation. The checkpoint carries its recipe, classes and normalisation statistics, so
nothing else is needed but the data."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from zoo.data import Normalizer
from zoo.errors import ZooError
from zoo.runs.model import load_model
from zoo.train.loaders import evaluation_loader, load_splits
from zoo.train.objective import evaluate
from zoo.train.runtime.device import place


@dataclass(frozen=True)
class Evaluation:
    """A checkpoint's loss and accuracy on one split of its data set."""

    name: str
    split: str
    loss: float
    accuracy: float
    tta: bool = False
    checkpoint: str = ""

    def to_json(self) -> dict[str, object]:
        """``zoo eval --json``: one object with ``accuracy`` in [0, 1] (a non-finite loss is
        null: strict JSON has no NaN)."""
        return {
            "name": self.name,
            "checkpoint": self.checkpoint,
            "split": self.split,
            "tta": self.tta,
            "loss": self.loss if math.isfinite(self.loss) else None,
            "accuracy": self.accuracy,
        }


def evaluate_checkpoint(
    path: Path, data_root: Path | None = None, *, tta: bool = False
) -> Evaluation:
    """Evaluate the checkpoint at ``path`` on the split its run validated on: the test set, or
    the held-out part of the training set when the recipe sets ``data.val_split``."""
    loaded = load_model(path)
    recipe, state = loaded.recipe, loaded.state
    placement = place(recipe.train)
    model = loaded.network.to(placement.device, memory_format=placement.memory_format)
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
    return Evaluation(recipe.name, split, loss, accuracy, tta, str(loaded.path))
