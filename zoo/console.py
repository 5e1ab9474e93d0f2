"""The rich console every part of zoo prints through, on a terminal and in a pipe alike.

It sits below the CLI and the trainer, which both print: :mod:`zoo.train.progress` shows bars
while :mod:`zoo.cli` prints tables, and neither imports the other.
"""

from __future__ import annotations

from rich.console import Console, ConsoleDimensions

PIPE_WIDTH = 10_000
"""The width of output that is not a terminal: wide enough that no line is ever wrapped, so a
log of ``zoo train … | tee`` can be searched line by line."""


class Output(Console):
    """A rich console that wraps at the terminal's width, and not at all when the output is a
    file or a pipe (rich would wrap at 80 columns there). ``COLUMNS`` still sets the width."""

    @property
    def size(self) -> ConsoleDimensions:
        size = super().size
        if self.is_terminal or "COLUMNS" in self._environ:
            return size
        return ConsoleDimensions(PIPE_WIDTH, size.height)

    def on_broken_pipe(self) -> None:
        """Let :func:`zoo.cli.main` handle a closed pipe like any other (rich would exit 1)."""
        raise BrokenPipeError
