"""``metrics.jsonl``: one strict-JSON object per finished epoch, written whole, read checked."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, PositiveInt, ValidationError

from zoo.errors import ZooError
from zoo.runs.files import write_text
from zoo.runs.layout import METRICS_FILE
from zoo.validation import first_problem

STRICT = ConfigDict(strict=True, arbitrary_types_allowed=True, extra="allow")
"""The run files' schemas: the types must be right (strict), tensors are checked with
``isinstance``, and keys a later zoo adds are let through."""

Fraction = Annotated[float, Field(ge=0.0, le=1.0)]

MAX_METRICS_BYTES = 256 * 2**20
"""The largest ``metrics.jsonl`` read (256 MiB): a row is about 250 bytes, so a million epochs
fit; a larger file is damaged (or not zoo's), and is not read into memory."""


class MetricsRow(BaseModel):
    """One line of ``metrics.jsonl``: one finished epoch. A loss or accuracy is ``null`` where it
    was not finite (the row then has ``"diverged": true``)."""

    model_config = STRICT

    epoch: PositiveInt
    lr: float
    train_loss: float | None
    train_acc: Fraction | None
    val_loss: float | None
    val_acc: Fraction | None
    seconds: float = 0.0
    diverged: bool = False


def write_metrics(path: Path, rows: list[dict[str, Any]]) -> None:
    """Rewrite ``metrics.jsonl`` from the rows a checkpoint holds (atomic)."""
    write_text(path, "".join(json.dumps(row, allow_nan=False) + "\n" for row in rows))


def read_metrics(run_dir: Path) -> list[dict[str, Any]]:
    """The rows of a run's ``metrics.jsonl``, each checked against :class:`MetricsRow` (strict
    JSON: ``NaN`` and ``Infinity`` are not JSON and are refused)."""
    path = run_dir / METRICS_FILE
    if not path.is_file():
        raise ZooError(f"{run_dir}: no {METRICS_FILE}; is this a zoo run directory?")
    size = path.stat().st_size
    if size > MAX_METRICS_BYTES:
        raise ZooError(
            f"{path}: {size / 2**20:,.0f} MiB, more than a million epochs' rows "
            f"({MAX_METRICS_BYTES >> 20} MiB); not a zoo metrics file, not read"
        )
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ZooError(f"{path}: cannot be read as text ({exc})") from None
    rows = []
    for number, line in enumerate(text.splitlines(), 1):
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
