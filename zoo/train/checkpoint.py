"""Run directories and checkpoints.

A run directory holds the resolved ``recipe.toml``, ``metrics.jsonl`` (one JSON object per epoch),
``last.pt`` (every epoch) and ``best.pt`` (when validation accuracy improves: the seed's
``ModelCheckpoint(save_best_only=True)``). Writes are atomic — a temporary file in the same
directory, flushed to disk, then renamed over the old one — so a kill at any instant leaves the
previous checkpoint loadable. Checkpoints hold only tensors and plain data and are loaded with
``torch.load(weights_only=True)``: a file that holds pickled code is refused without running it.
"""

from __future__ import annotations

import json
import os
import pickle
import re
import secrets
import tempfile
import tomllib
import warnings
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import tomli_w
import torch

from zoo.errors import ZooError

RECIPE_FILE = "recipe.toml"
METRICS_FILE = "metrics.jsonl"
LAST = "last.pt"
BEST = "best.pt"
RUN_FILES = (RECIPE_FILE, METRICS_FILE, LAST, BEST)

FILE_MODE = 0o666
"""Run files get the permissions of any new file (less the umask), as ``open`` gives."""
FORMAT = 2
"""The checkpoint layout version, stored under ``"format"``: 2 since stages are the papers'
stages and the classifier is ``head.fc``."""
READABLE_FORMATS = (1, 2)
CHECKPOINT_KEYS = ("format", "model", "epoch", "recipe", "classes", "normalizer")
"""What every zoo checkpoint holds, checked on load."""


def default_run_dir(recipe_name: str, root: Path = Path("runs")) -> Path:
    """``runs/<recipe>-<YYYYmmdd-HHMMSS>``, with ``-2``, ``-3``… for runs started in the same
    second."""
    stem = root / f"{recipe_name}-{datetime.now():%Y%m%d-%H%M%S}"
    path, number = stem, 1
    while path.exists():
        number += 1
        path = stem.with_name(f"{stem.name}-{number}")
    return path


def prepare_run_dir(path: Path) -> Path:
    """Create a new run directory and check it is writable; never reuse one that holds a run
    (or any file a run would write)."""
    taken = [name for name in RUN_FILES if (path / name).exists()]
    if taken:
        hint = f"continue it with `zoo train --resume {path}`" if LAST in taken else "clear it"
        raise ZooError(f"{path} already holds {', '.join(taken)}; {hint} or choose another --out")
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path):
            pass
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
    path: Path, device: torch.device | str = "cpu", required: Sequence[str] = CHECKPOINT_KEYS
) -> dict[str, Any]:
    """Load a zoo checkpoint safely (``weights_only=True``); bad files are one clear error.
    Checkpoints of format 1 (stages before they were the papers' stages) are read too: their
    weights are renamed when they are loaded into a network (:mod:`zoo.architectures.weights`).
    ``required`` are the keys the caller needs (inference can do without ``classes``, which
    early checkpoints lack)."""
    if not path.is_file():
        raise ZooError(f"{path}: no such checkpoint")
    state = load_tensors(path, device)
    missing = [key for key in required if not isinstance(state, dict) or key not in state]
    if missing:
        raise ZooError(f"{path}: not a zoo checkpoint (no {', '.join(missing)})")
    if state["format"] not in READABLE_FORMATS:
        raise ZooError(f"{path}: checkpoint format {state['format']}; this zoo reads {FORMAT}")
    if state["format"] == 1:
        state["recipe"] = migrate_recipe(state["recipe"], path)
    return state


CIFAR_VGG = re.compile(r"vgg(\d+)")
"""Before format 2, ``vgg11`` was zoo's CIFAR VGG; the name now means torchvision's network."""

SEED_PRESET = re.compile(r"resnet\d+_v[12]")
SEED_FAMILIES = ("resnet_v1", "resnet_v2")
"""Before format 2, the seed's ResNets padded symmetrically; now they pad as Keras does."""


def migrate_recipe(text: Any, path: Path) -> Any:
    """A format-1 checkpoint's recipe in today's names, for the network it was trained as:
    ``vggN`` becomes ``vggN_cifar``, and the seed's ResNets keep the symmetric padding they
    were trained with (one line says so)."""
    if not isinstance(text, str):
        return text
    try:
        recipe = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return text  # the recipe's own check reports it
    model = recipe.get("model")
    if isinstance(model, str):
        model = recipe["model"] = {"preset": model}
    if not isinstance(model, dict):
        return text
    preset = model.get("preset")
    if isinstance(preset, str) and CIFAR_VGG.fullmatch(preset):
        model["preset"] = f"{preset}_cifar"
    seed_network = isinstance(preset, str) and SEED_PRESET.fullmatch(preset)
    if (seed_network or model.get("arch") in SEED_FAMILIES) and "padding" not in model:
        model["padding"] = "symmetric"
        warnings.warn(
            f"{path}: written before zoo padded the seed's ResNets as Keras does; it keeps the "
            'symmetric padding it was trained with (model.padding = "symmetric")',
            stacklevel=3,
        )
    return tomli_w.dumps(recipe)


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
    write_text(path, "".join(json.dumps(row) + "\n" for row in rows))


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    """The rows of a run's ``metrics.jsonl``."""
    path = run_dir / METRICS_FILE
    if not path.is_file():
        raise ZooError(f"{run_dir}: no {METRICS_FILE}; is this a zoo run directory?")
    try:
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    except json.JSONDecodeError as exc:
        raise ZooError(f"{path}: line {exc.lineno} is not JSON") from exc
