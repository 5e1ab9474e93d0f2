"""What a person sees while training: rich bars for epochs and batches, a line per epoch, and a
summary table at the end. Only rank 0 shows anything.

The batch bar's loss and accuracy are refreshed every ``REFRESH_STEPS`` steps, because reading a
number back from the GPU makes the host wait for it; advancing the bar itself costs nothing. Where
no bar is seen (``quiet``, ``--no-progress``, output that is not a terminal) they are never read.
"""

from __future__ import annotations

import time
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
from rich.progress import Progress as RichProgress
from rich.table import Table

from zoo.console import Output

if TYPE_CHECKING:
    from zoo.data.splits import DataSplits
    from zoo.recipe import Recipe
    from zoo.train.runtime.device import Placement

REFRESH_STEPS = 25
"""Steps between reads of the running loss and accuracy."""

console = Output(stderr=True)


class Progress:
    """Epoch and batch progress for ``epochs`` epochs of ``steps`` steps. ``enabled=False`` (DDP
    ranks other than 0) shows nothing; ``bars=False`` (``--no-progress``) a line per epoch."""

    def __init__(
        self, epochs: int, steps: int, batch_size: int, enabled: bool = True, bars: bool = True
    ) -> None:
        self.enabled, self.epochs, self.steps, self.batch_size = enabled, epochs, steps, batch_size
        self.show_bars = enabled and bars
        self.bars = RichProgress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[status]}"),
            TimeRemainingColumn(),
            console=console,
            disable=not self.show_bars,
            transient=True,
        )
        self.epoch_bar = self.bars.add_task("epochs", total=epochs, status="")
        self.batch_bar = self.bars.add_task("batches", total=steps, status="")
        self.started = self.epoch_started = time.perf_counter()
        self.first_step = 0

    def __enter__(self) -> Progress:
        self.bars.__enter__()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.bars.__exit__(kind, error, tb)

    def announce(
        self, recipe: Recipe, placement: Placement, splits: DataSplits, run_dir: Path, start: int
    ) -> None:
        if not self.enabled:
            return
        layout = "channels_last" if placement.channels_last else "NCHW"
        what = f"resuming at epoch {start + 1}" if start else "training"
        console.print(
            f"zoo: {what} {recipe.name} on {splits.name} ({len(splits.train_labels):,} train / "
            f"{len(splits.val_labels):,} val) · {placement.device} {placement.precision} "
            f"{layout} · run directory {run_dir}",
            markup=False,
        )
        self.bars.update(self.epoch_bar, completed=start)

    @property
    def shows_status(self) -> bool:
        """Whether the batch bar's loss and accuracy are seen: bars on, on a terminal (rich draws
        no live bars elsewhere). Only then are they worth reading back from the device."""
        return self.show_bars and console.is_terminal

    def note(self, text: str) -> None:
        """One line for the person training (rank 0 only)."""
        if self.enabled:
            console.print(text, markup=False)

    def start_epoch(self, epoch: int, first_step: int = 0) -> None:
        """An epoch begins at ``first_step`` (above 0 when resumed mid-epoch): the bar's img/s
        counts only the steps this process trains."""
        self.bars.reset(self.batch_bar, total=self.steps, status="")
        self.bars.update(self.batch_bar, description=f"epoch {epoch + 1}/{self.epochs}")
        self.epoch_started, self.first_step = time.perf_counter(), first_step

    def advance(self, step: int) -> None:
        if self.show_bars:
            self.bars.update(self.batch_bar, completed=step + 1)

    def refresh(self, step: int, loss: float, accuracy: float, lr: float) -> None:
        if not self.show_bars:
            return
        elapsed = max(time.perf_counter() - self.epoch_started, 1e-9)
        images_per_sec = (step + 1 - self.first_step) * self.batch_size / elapsed
        status = f"loss {loss:.4f} acc {accuracy:.2%} lr {lr:.3g} {images_per_sec:,.0f} img/s"
        self.bars.update(self.batch_bar, completed=step + 1, status=status)

    def epoch_done(self, row: dict[str, Any], improved: bool) -> None:
        if not self.enabled:
            return
        self.bars.advance(self.epoch_bar)
        mark = " *best*" if improved else ""
        console.print(
            f"epoch {row['epoch']:>3}/{self.epochs}  lr {row['lr']:.3g}  "
            f"loss {row['train_loss']:.4f}  acc {row['train_acc']:.2%}  "
            f"val_loss {_loss(row['val_loss'])}  val_acc {row['val_acc']:.2%}  "
            f"{row['seconds']:.1f}s  {_rate(row['images_per_sec'])} img/s{mark}"
        )

    def finish(self, metrics: list[dict[str, Any]]) -> None:
        if not self.enabled or not metrics:
            return
        finite = [row for row in metrics if not row.get("diverged")] or metrics
        best = max(finite, key=lambda row: row["val_acc"])
        last = metrics[-1]
        table = Table(title="zoo train: summary", title_justify="left")
        for column in ("", "epoch", "val_acc", "val_loss", "train_acc", "s/epoch", "img/s"):
            table.add_column(column, justify="right")
        for label, row in (("best", best), ("last", last)):
            table.add_row(
                label,
                str(row["epoch"]),
                f"{row['val_acc']:.2%}",
                _loss(row["val_loss"]),
                f"{row['train_acc']:.2%}",
                f"{row['seconds']:.1f}",
                _rate(row["images_per_sec"]),
            )
        total = sum(row["seconds"] for row in metrics)
        console.print(table)
        count = len(metrics)
        console.print(f"zoo: {count} epoch{'' if count == 1 else 's'} in {total:.0f}s")


def _rate(value: float | None) -> str:
    """Images per second, whole; ``None`` is an epoch with no step timed (resumed at its end)."""
    return "–" if value is None else f"{value:,.0f}"


def _loss(value: float | None) -> str:
    """A loss to four decimals; ``None`` is an epoch whose validation loss was not finite."""
    return "diverged" if value is None else f"{value:.4f}"
