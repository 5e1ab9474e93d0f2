"""Stopping a run on SIGINT or SIGTERM without losing it.

Clusters send SIGTERM before they preempt a job, and a person presses Ctrl-C. Either sets a flag
that the training loop reads after each step (a Python attribute: no host synchronisation); the
loop then saves a resumable checkpoint of that very step and raises :class:`Stopped`, which the
CLI turns into one line on how to resume and the exit code 128 + signal (130, 143). A second
Ctrl-C stops at once, as Python's own handler would.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

HANDLED = (signal.SIGINT, signal.SIGTERM)


@dataclass
class StopRequest:
    """The first stop signal received, if any."""

    signal: int | None = None

    @property
    def requested(self) -> bool:
        return self.signal is not None

    def handle(self, number: int, _frame: FrameType | None) -> None:
        if self.signal is not None and number == signal.SIGINT:
            raise KeyboardInterrupt  # a second Ctrl-C: stop now
        self.signal = number


class Stopped(Exception):
    """The run stopped on a signal, after saving a resumable checkpoint."""

    def __init__(self, number: int, run_dir: Path, epoch: int, step: int) -> None:
        self.number, self.run_dir, self.epoch, self.step = number, run_dir, epoch, step
        name = signal.Signals(number).name
        super().__init__(
            f"stopped by {name} at epoch {epoch + 1}, step {step}; a checkpoint of that step is "
            f"in {run_dir / 'last.pt'}: continue with `zoo train --resume {run_dir}`"
        )

    @property
    def exit_code(self) -> int:
        return 128 + self.number


@contextmanager
def stop_on_signals() -> Iterator[StopRequest]:
    """A :class:`StopRequest` that SIGINT and SIGTERM set while the block runs (in the main
    thread; elsewhere signals cannot be handled, and it stays unset)."""
    request = StopRequest()
    if threading.current_thread() is not threading.main_thread():
        yield request
        return
    previous = {number: signal.signal(number, request.handle) for number in HANDLED}
    try:
        yield request
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
