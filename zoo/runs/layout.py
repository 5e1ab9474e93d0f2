"""What a run directory holds, by name: the one place that defines the run files.

A run directory (design.md, "Run directory") holds the resolved ``recipe.toml``,
``metrics.jsonl`` (one JSON object per epoch), ``last.pt`` (every epoch, what ``--resume`` reads)
and ``best.pt`` (when validation accuracy improves: the seed's
``ModelCheckpoint(save_best_only=True)``). Weights, predictions and exports that are given a run
directory take its :func:`run_checkpoint`.
"""

from __future__ import annotations

from pathlib import Path

from zoo.errors import ZooError

RECIPE_FILE = "recipe.toml"
METRICS_FILE = "metrics.jsonl"
LAST = "last.pt"
BEST = "best.pt"
RUN_FILES = (RECIPE_FILE, METRICS_FILE, LAST, BEST)
TRAINED_FILES = (LAST, BEST)
"""The files that hold trained weights: a directory with either holds a run and is never reused.
A directory with only ``recipe.toml`` (and ``metrics.jsonl``) is a run stopped in its first
epoch, which left nothing to lose; it is used again."""

RUN_CHECKPOINTS = (BEST, LAST)
"""The checkpoint a run directory stands for, in order of preference."""


def is_run_dir(path: Path) -> bool:
    """Whether ``path`` is a directory with a recipe or metrics: a run, finished or not."""
    return path.is_dir() and any((path / name).is_file() for name in (RECIPE_FILE, METRICS_FILE))


def run_checkpoint(run_dir: Path) -> Path:
    """The checkpoint a run directory stands for: its ``best.pt``, else its ``last.pt``."""
    for name in RUN_CHECKPOINTS:
        if (run_dir / name).is_file():
            return run_dir / name
    raise ZooError(f"{run_dir}: a directory without {' or '.join(RUN_CHECKPOINTS)}")
