"""The checkpoint schema: what ``last.pt`` and ``best.pt`` hold, written and read back checked.

Checkpoints hold only tensors and plain data and are loaded with
``torch.load(weights_only=True)`` (:mod:`zoo.tensorfile`): a file that holds pickled code is
refused without running it. Checkpoints of format 1 (before stages were the papers' stages) are
read too: their recipe is migrated here, their weights when they are loaded into a network
(:mod:`zoo.architectures.weights`).
"""

from __future__ import annotations

import re
import tomllib
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import tomli_w
import torch
from pydantic import BaseModel, Field, NonNegativeInt, ValidationError

from zoo.errors import ZooError
from zoo.runs.files import atomic_write
from zoo.runs.layout import LAST
from zoo.runs.metrics import STRICT, MetricsRow
from zoo.tensorfile import load_tensors
from zoo.validation import first_problem

LEGACY_FORMAT = 1
"""zoo's checkpoint format before stages were the papers' stages."""
FORMAT = 2
"""The checkpoint layout version, stored under ``"format"``: 2 since stages are the papers'
stages and the classifier is ``head.fc``."""
READABLE_FORMATS = (1, 2)
"""Format 1 is read too: its weights are renamed as they load (zoo.architectures.weights)."""
CHECKPOINT_KEYS = ("format", "model", "epoch", "recipe", "classes", "normalizer")
"""What a zoo checkpoint holds; ``classes`` is absent from the earliest ones."""

Tensor = Annotated[torch.Tensor, Field(description="a tensor")]


class NormalizerState(BaseModel):
    """The normalisation statistics fitted on the training split."""

    model_config = STRICT

    mean: Tensor
    std: Tensor


class Checkpoint(BaseModel):
    """What every zoo checkpoint holds: enough to rebuild and use the trained network."""

    model_config = STRICT

    format: Literal[1, 2]
    model: dict[str, Tensor]
    epoch: NonNegativeInt
    recipe: str
    classes: list[str] | None = None
    normalizer: NormalizerState


class OptimizerState(BaseModel):
    """torch's ``Optimizer.state_dict()``."""

    model_config = STRICT

    state: dict[int, dict[str, Any]]
    param_groups: list[dict[str, Any]]


class RngState(BaseModel):
    """torch's global random states, and NumPy's (absent before mixup)."""

    model_config = STRICT

    torch: Tensor
    cuda: list[Tensor] | None = None
    numpy: dict[str, Any] | None = None


class ResumeCheckpoint(Checkpoint):
    """``last.pt`` as ``--resume`` needs it: the training state besides the weights."""

    optimizer: OptimizerState
    scheduler: dict[str, Any] | None = None
    """Written before the schedule was a closed form; read, and not needed."""
    plateau: dict[str, Any] | None
    rng: RngState
    metrics: list[MetricsRow]
    best_val_acc: float


def save_checkpoint(path: Path, state: Mapping[str, Any]) -> None:
    """Atomically save ``state`` (tensors and plain data) to ``path``."""
    atomic_write(path, lambda file: torch.save({"format": FORMAT, **state}, file))


def load_checkpoint(
    path: Path,
    device: torch.device | str = "cpu",
    *,
    resume: bool = False,
    required: Sequence[str] = CHECKPOINT_KEYS,
) -> dict[str, Any]:
    """Load a checkpoint safely (``weights_only=True``) and check its structure (with the
    training state too, if it is to ``resume``); bad files are one clear error. ``required``
    are the keys the caller needs (inference can do without ``classes``, which early
    checkpoints lack). Checkpoints of format 1 (before stages were the papers' stages) are read
    too: their recipe is migrated here, their weights when they are loaded into a network
    (:mod:`zoo.architectures.weights`)."""
    if not path.is_file():
        raise ZooError(f"{path}: no such checkpoint")
    state = load_tensors(path, device)
    check_checkpoint(state, path, ResumeCheckpoint if resume else Checkpoint)
    missing = [key for key in required if state.get(key) is None]
    if missing:
        raise ZooError(f"{path}: not a zoo checkpoint (no {', '.join(missing)})")
    if state["format"] == 1:
        state["recipe"] = migrate_recipe(state["recipe"], path)
    return state


CIFAR_VGG = re.compile(r"vgg(\d+)")
"""Before format 2, ``vgg11`` was zoo's CIFAR VGG; the name now means torchvision's network."""

SEED_PRESET = re.compile(r"resnet\d+_v[12]")
SEED_FAMILIES = ("resnet_v1", "resnet_v2")
"""Before format 2, the seed's ResNets padded symmetrically; now they pad as Keras does."""


def migrate_recipe(text: Any, path: Path) -> Any:
    """A format-1 checkpoint's recipe in today's names, for the network it was trained as
    (:func:`format_1_changes`); one line says so where the padding is kept."""
    if not isinstance(text, str):
        return text
    try:
        recipe = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return text  # the recipe's own check reports it
    changes = format_1_changes(recipe.get("model"))
    if not changes:
        return text
    model = recipe["model"]
    model = {"preset": model} if isinstance(model, str) else model
    recipe["model"] = model | {key.removeprefix("model."): value for key, value in changes.items()}
    if "model.padding" in changes:
        warnings.warn(
            f"{path}: written before zoo padded the seed's ResNets as Keras does; it keeps the "
            'symmetric padding it was trained with (model.padding = "symmetric")',
            stacklevel=3,
        )
    return tomli_w.dumps(recipe)


def format_1_changes(model: Any) -> dict[str, str]:
    """The ``[model]`` keys that make a format-1 recipe build the network it was trained as:
    ``vggN`` becomes ``vggN_cifar``, and the seed's ResNets keep symmetric padding."""
    if isinstance(model, str):
        model = {"preset": model}
    if not isinstance(model, dict):
        return {}
    changes = {}
    preset = model.get("preset")
    if isinstance(preset, str) and CIFAR_VGG.fullmatch(preset):
        changes["model.preset"] = f"{preset}_cifar"
    seed_network = isinstance(preset, str) and SEED_PRESET.fullmatch(preset)
    if (seed_network or model.get("arch") in SEED_FAMILIES) and "padding" not in model:
        changes["model.padding"] = "symmetric"
    return changes


def resume_overrides(run_dir: Path) -> list[str]:
    """``--set`` overrides that resume a run of format 1 as the network it was trained as (the
    checkpoint itself is checked when the run resumes)."""
    state = load_tensors(run_dir / LAST)
    if not isinstance(state, dict) or state.get("format") != 1:
        return []
    try:
        model = tomllib.loads(state["recipe"]).get("model")
    except (KeyError, TypeError, tomllib.TOMLDecodeError):
        return []
    return [f'{key}="{value}"' for key, value in format_1_changes(model).items()]


def check_checkpoint(state: Any, path: Path, schema: type[Checkpoint] = Checkpoint) -> None:
    """Validate a loaded checkpoint's structure with ``schema``: one line naming the file and
    the first bad key, instead of a traceback wherever the bad value is first used."""
    if not isinstance(state, dict) or "format" not in state:
        raise ZooError(f"{path}: not a zoo checkpoint (a dict with format, model, epoch, …)")
    if state["format"] not in READABLE_FORMATS:
        raise ZooError(
            f"{path}: checkpoint format {state['format']!r}; this zoo reads "
            f"{', '.join(map(str, READABLE_FORMATS))}"
        )
    try:
        schema.model_validate(state)
    except ValidationError as exc:
        what = "a resumable checkpoint" if schema is ResumeCheckpoint else "a zoo checkpoint"
        raise ZooError(f"{path}: not {what}: {first_problem(exc, schema)[1]}") from exc
