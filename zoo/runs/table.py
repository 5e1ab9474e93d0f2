"""``zoo runs``: a summary of every run directory under a folder, to compare runs at a glance.

Each run is read from its files alone (``recipe.toml`` and ``metrics.jsonl``), never from its
checkpoints, so listing a folder of large runs is instant. A run is *running* while a trainer
holds the run directory's lock (:func:`zoo.runs.files.locked_run_dir`), *finished* when it has
done its recipe's epochs, *stopped* otherwise, and *damaged* when its metrics cannot be read
(a warning says why).
"""

from __future__ import annotations

import statistics
import tomllib
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from zoo.errors import ZooError
from zoo.runs.files import is_locked
from zoo.runs.layout import METRICS_FILE, RECIPE_FILE, is_run_dir
from zoo.runs.metrics import read_metrics


@dataclass(frozen=True)
class RunSummary:
    """One row of ``zoo runs``."""

    name: str
    path: str
    network: str
    dataset: str
    epochs_done: int
    epochs_total: int | None
    best_val_acc: float | None
    images_per_sec: float | None
    """The median of the epochs' training images per second."""
    wall_seconds: float
    """Training and validation time of all epochs (``seconds`` summed)."""
    state: str
    """``running``, ``finished``, ``stopped`` or ``damaged`` (metrics that cannot be read)."""

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def list_runs(folder: Path) -> list[RunSummary]:
    """Every run directory directly under ``folder`` (one with a recipe or metrics), by name."""
    if not folder.is_dir():
        raise ZooError(f"{folder}: no such folder of runs")
    runs = [path for path in sorted(folder.iterdir()) if is_run_dir(path)]
    return [summarize_run(path) for path in runs]


def summarize_run(run_dir: Path) -> RunSummary:
    """The row of one run directory; a recipe or metrics that cannot be read leave blanks."""
    recipe = _read_recipe(run_dir / RECIPE_FILE)
    damaged = False
    try:
        rows = read_metrics(run_dir)
    except ZooError as exc:
        rows, damaged = [], (run_dir / METRICS_FILE).exists()
        if damaged:
            warnings.warn(str(exc), stacklevel=2)
    total = recipe.get("train", {}).get("epochs")
    done = len(rows)
    accuracies = [row["val_acc"] for row in rows if isinstance(row.get("val_acc"), int | float)]
    rates = [row["images_per_sec"] for row in rows if row.get("images_per_sec")]
    if is_locked(run_dir):
        state = "running"
    elif damaged:
        state = "damaged"
    elif isinstance(total, int) and done >= total:
        state = "finished"
    else:
        state = "stopped"
    return RunSummary(
        name=run_dir.name,
        path=str(run_dir),
        network=network_name(recipe.get("model")),
        dataset=str(recipe.get("data", {}).get("dataset", "?")),
        epochs_done=done,
        epochs_total=total if isinstance(total, int) else None,
        best_val_acc=max(accuracies) if accuracies else None,
        images_per_sec=statistics.median(rates) if rates else None,
        wall_seconds=round(sum(row.get("seconds", 0.0) for row in rows), 3),
        state=state,
    )


def _read_recipe(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError):
        return {}


def network_name(model: Any) -> str:
    """A recipe's ``[model]`` in a word: the preset, the family, or the spec's name."""
    if isinstance(model, str):
        return model
    if isinstance(model, dict):
        for key in ("preset", "arch", "name"):
            if isinstance(model.get(key), str):
                return model[key]
    return "?"


def wall_time(seconds: float) -> str:
    """``42s``, ``3m05s``, ``2h07m``."""
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"
