"""Run directories and checkpoints.

A run directory holds the resolved ``recipe.toml``, ``metrics.jsonl`` (one JSON object per epoch),
``last.pt`` (every epoch) and ``best.pt`` (when validation accuracy improves: the seed's
``ModelCheckpoint(save_best_only=True)``). Writes are atomic — a temporary file in the same
directory, flushed to disk, then renamed over the old one — so a kill at any instant leaves the
previous checkpoint loadable. Checkpoints hold only tensors and plain data and are loaded with
``torch.load(weights_only=True)``: a file that holds pickled code is refused without running it.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import pickle
import re
import secrets
import tempfile
import time
import tomllib
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import tomli_w
import torch
from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, PositiveInt, ValidationError

from zoo.errors import ZooError
from zoo.validation import first_problem

RECIPE_FILE = "recipe.toml"
METRICS_FILE = "metrics.jsonl"
LAST = "last.pt"
BEST = "best.pt"
RUN_FILES = (RECIPE_FILE, METRICS_FILE, LAST, BEST)
TRAINED_FILES = (LAST, BEST)
"""The files that hold trained weights: a directory with either holds a run and is never reused.
A directory with only ``recipe.toml`` (and ``metrics.jsonl``) is a run stopped in its first
epoch, which left nothing to lose; it is used again."""

LOCK_PATIENCE = 0.5
LOCK_RETRY = 0.01
"""How long a trainer tries to lock its run directory, and how often: long enough to outlast
``zoo runs`` probing the lock, short enough that a run in use is reported at once."""

FILE_MODE = 0o666
"""Run files get the permissions of any new file (less the umask), as ``open`` gives."""
FORMAT = 2
"""The checkpoint layout version, stored under ``"format"``: 2 since stages are the papers'
stages and the classifier is ``head.fc``."""
READABLE_FORMATS = (1, 2)
CHECKPOINT_KEYS = ("format", "model", "epoch", "recipe", "classes", "normalizer")
"""What a zoo checkpoint holds; ``classes`` is absent from the earliest ones."""
"""Format 1 is read too: its weights are renamed as they load (zoo.architectures.weights)."""

_STRICT = ConfigDict(strict=True, arbitrary_types_allowed=True, extra="allow")
"""Checkpoint and metrics schemas: the types must be right (strict), tensors are checked with
``isinstance``, and keys a later zoo adds are let through."""

Tensor = Annotated[torch.Tensor, Field(description="a tensor")]
Fraction = Annotated[float, Field(ge=0.0, le=1.0)]


class MetricsRow(BaseModel):
    """One line of ``metrics.jsonl``: one finished epoch. A loss or accuracy is ``null`` where it
    was not finite (the row then has ``"diverged": true``)."""

    model_config = _STRICT

    epoch: PositiveInt
    lr: float
    train_loss: float | None
    train_acc: Fraction | None
    val_loss: float | None
    val_acc: Fraction | None
    seconds: float = 0.0
    diverged: bool = False


class NormalizerState(BaseModel):
    """The normalisation statistics fitted on the training split."""

    model_config = _STRICT

    mean: Tensor
    std: Tensor


class Checkpoint(BaseModel):
    """What every zoo checkpoint holds: enough to rebuild and use the trained network."""

    model_config = _STRICT

    format: Literal[1, 2]
    model: dict[str, Tensor]
    epoch: NonNegativeInt
    recipe: str
    classes: list[str] | None = None
    normalizer: NormalizerState


class OptimizerState(BaseModel):
    """torch's ``Optimizer.state_dict()``."""

    model_config = _STRICT

    state: dict[int, dict[str, Any]]
    param_groups: list[dict[str, Any]]


class RngState(BaseModel):
    """torch's global random states, and NumPy's (absent before mixup)."""

    model_config = _STRICT

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


def default_run_dir(recipe_name: str, root: Path = Path("runs")) -> Path:
    """Create and return ``runs/<recipe>-<YYYYmmdd-HHMMSS>``, with ``-2``, ``-3``… for runs
    started in the same second. ``mkdir`` is atomic, so two processes never get one directory."""
    stem = root / f"{recipe_name or 'run'}-{datetime.now():%Y%m%d-%H%M%S}"
    path, number = stem, 1
    while True:
        try:
            path.mkdir(parents=True)
            return path
        except FileExistsError:
            number += 1
            path = stem.with_name(f"{stem.name}-{number}")
        except OSError as exc:
            raise ZooError(f"cannot create the run directory {path}: {exc.strerror}") from exc


@contextlib.contextmanager
def locked_run_dir(path: Path, enabled: bool = True) -> Iterator[Path]:
    """Hold an exclusive ``flock`` on the run directory (created if missing) while the block
    runs: one process owns a run directory at a time (design.md). A second process gets a
    :class:`ZooError` at once; the kernel drops the lock when its holder dies, even by
    ``kill -9``. A directory created here and left empty by a failure is removed again."""
    if not enabled:  # DDP ranks other than 0 write nothing
        yield path
        return
    created = not path.exists()
    try:
        path.mkdir(parents=True, exist_ok=True)
        handle = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as exc:
        raise ZooError(f"cannot write the run directory {path}: {exc.strerror or exc}") from exc
    try:
        if not _lock(handle):
            raise ZooError(
                f"{path} is in use by another zoo process; wait for it to finish or choose "
                "another --out"
            )
        try:
            with tempfile.NamedTemporaryFile(dir=path):  # a read-only run fails here, not later
                pass
        except OSError as exc:
            raise ZooError(f"cannot write the run directory {path}: {exc.strerror or exc}") from exc
        try:
            yield path
        except BaseException:
            if created:
                with contextlib.suppress(OSError):
                    path.rmdir()  # only succeeds while it is empty
            raise
    finally:
        os.close(handle)  # closing the last descriptor releases the lock


def _lock(handle: int) -> bool:
    """Take the exclusive lock, or report that another process holds it. ``zoo runs`` probes
    locks by taking them for an instant, so a holder is only believed after
    :data:`LOCK_PATIENCE` seconds of failed attempts."""
    deadline = time.monotonic() + LOCK_PATIENCE
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise
        if time.monotonic() >= deadline:
            return False
        time.sleep(LOCK_RETRY)


def prepare_run_dir(path: Path) -> Path:
    """Create a new run directory and check it is writable; never reuse one that holds trained
    weights (:data:`TRAINED_FILES`). Leftovers of a run stopped in its first epoch are replaced."""
    taken = [name for name in RUN_FILES if (path / name).exists()]
    if any(name in TRAINED_FILES for name in taken):
        hint = f"continue it with `zoo train --resume {path}`" if LAST in taken else "clear it"
        raise ZooError(f"{path} already holds {', '.join(taken)}; {hint} or choose another --out")
    try:
        path.mkdir(parents=True, exist_ok=True)
        for name in taken:  # a first epoch that never finished: nothing of it is kept
            (path / name).unlink()
    except OSError as exc:
        raise ZooError(f"cannot write the run directory {path}: {exc.strerror or exc}") from exc
    return path


def atomic_write(path: Path, write: Callable[[Any], None], mode: str = "wb") -> None:
    """Write through ``write(file)`` to a temporary file, fsync, then rename over ``path``."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)  # umask applies
    try:
        with os.fdopen(handle, mode) as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


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


def load_tensors(path: Path, device: torch.device | str = "cpu") -> Any:
    """``torch.load(weights_only=True)`` of a file: tensors and plain data, never code; a file
    that is not a readable torch file is one clear error."""
    try:
        state = torch.load(path, map_location=device, weights_only=True)
    except pickle.UnpicklingError as exc:
        refused = _unsupported_global(exc)
        if not refused:
            lines = [line for line in str(exc).splitlines() if line.startswith("Unsupported")]
            reason = lines[0] if lines else "the safe unpickler cannot read it"
            raise ZooError(f"{path}: not a torch checkpoint ({reason})") from exc
        raise ZooError(
            f"{path}: refusing to load a checkpoint that holds pickled objects or code "
            f"(zoo checkpoints hold only tensors and plain data): it names {refused}"
        ) from exc
    except (RuntimeError, EOFError, OSError) as exc:
        raise ZooError(f"{path}: not a readable checkpoint ({exc})") from exc
    except Exception as exc:  # a file of another kind: torch raises whatever its parser meets
        raise ZooError(f"{path}: not a torch checkpoint ({type(exc).__name__}: {exc})") from exc
    return state


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


def _unsupported_global(error: Exception) -> str:
    """The global torch refused (``posix.system``), from its message, without colour codes."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(error))
    match = re.search(r"(?:unsupported|Unsupported global:) GLOBAL (\S+)", text)
    return match[1] if match else ""


def write_text(path: Path, text: str) -> None:
    """Atomically write a text file (the run's ``recipe.toml``)."""
    atomic_write(path, lambda file: file.write(text), mode="w")


def write_metrics(path: Path, rows: list[dict[str, Any]]) -> None:
    """Rewrite ``metrics.jsonl`` from the rows a checkpoint holds (atomic)."""
    write_text(path, "".join(json.dumps(row, allow_nan=False) + "\n" for row in rows))


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    """The rows of a run's ``metrics.jsonl``, each checked against :class:`MetricsRow` (strict
    JSON: ``NaN`` and ``Infinity`` are not JSON and are refused)."""
    path = run_dir / METRICS_FILE
    if not path.is_file():
        raise ZooError(f"{run_dir}: no {METRICS_FILE}; is this a zoo run directory?")
    rows = []
    for number, line in enumerate(path.read_text("utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line, parse_constant=_not_json)
            MetricsRow.model_validate(row)
        except (json.JSONDecodeError, ValueError) as exc:
            reason = first_problem(exc, MetricsRow)[1] if isinstance(exc, ValidationError) else exc
            raise ZooError(f"{path}: line {number} is not a metrics row: {reason}") from exc
        rows.append(row)
    return rows


def _not_json(constant: str) -> None:
    raise ValueError(f"{constant} is not JSON (write null)")
