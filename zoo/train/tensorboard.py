"""``train.tensorboard``: each epoch's metrics as TensorBoard scalars in the run directory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from zoo.errors import ZooError


def writer(run_dir: Path | None) -> Any:
    """A TensorBoard ``SummaryWriter`` into the run directory; with no directory, only the check
    that TensorBoard is installed, before anything is written."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as exc:
        raise ZooError(
            "train.tensorboard needs TensorBoard: pip install 'zoo[tensorboard]' "
            "(or set train.tensorboard = false)"
        ) from exc
    return None if run_dir is None else SummaryWriter(log_dir=str(run_dir))


def log_epoch(board: Any, row: dict[str, Any]) -> None:
    """The numbers of one ``metrics.jsonl`` row, at its epoch (nothing without a writer)."""
    if board is None:
        return
    for key, value in row.items():
        if key != "epoch" and isinstance(value, int | float):
            board.add_scalar(key, value, row["epoch"])
    board.flush()
