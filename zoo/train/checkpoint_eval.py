"""``zoo eval``: a checkpoint's validation loss and accuracy, optionally with flip test-time
augmentation. The checkpoint carries its recipe, classes and normalisation statistics, so
nothing else is needed but the data."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from torch import nn

from zoo.data import DeviceLoader, Normalizer
from zoo.errors import ZooError
from zoo.runs.model import CheckpointModel, load_model
from zoo.train.loaders import evaluation_loader, load_splits
from zoo.train.objective import evaluate
from zoo.train.runtime.device import Placement, place


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
    setup = prepare(path, data_root)
    loss, accuracy = evaluate(setup.model, setup.loader, setup.placement, tta=tta)
    return setup.evaluation(loss, accuracy, tta)


@dataclass(frozen=True)
class EvaluationSetup:
    """A checkpoint's network on its device, and the loader of the split its run validated on."""

    loaded: CheckpointModel
    model: nn.Module
    placement: Placement
    loader: DeviceLoader
    normalizer: Normalizer

    @property
    def split(self) -> str:
        return "validation" if self.loaded.recipe.data.val_split == 0 else "held-out validation"

    def evaluation(self, loss: float, accuracy: float, tta: bool) -> Evaluation:
        name, path = self.loaded.recipe.name, str(self.loaded.path)
        return Evaluation(name, self.split, loss, accuracy, tta, path)


def prepare(path: Path, data_root: Path | None = None) -> EvaluationSetup:
    """Load the checkpoint and its data; data of other classes is one clear error."""
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
    return EvaluationSetup(loaded, model.eval(), placement, loader, normalizer)
