"""What every ``zoo`` subcommand module shares: the table of commands, the consoles, and reading a
recipe argument.

It is its own module so that :mod:`zoo.cli` and :mod:`zoo.train.cli` both import it and not
each other: with that cycle, ``python -m zoo.cli`` ran ``zoo/cli.py`` as ``__main__`` while
``zoo.train.cli`` registered its commands in a second copy of it (``KeyError: 'plot'``).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import Any

from rich.console import Console, ConsoleDimensions

Handler = Callable[[argparse.Namespace], int]

COMMANDS: dict[str, Handler] = {}
"""Subcommand name (``"data show"``) → its handler."""

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


console = Output()
errors = Output(stderr=True)


def command(name: str) -> Callable[[Handler], Handler]:
    """Register the handler of the subcommand ``name``."""

    def register(function: Handler) -> Handler:
        COMMANDS[name] = function
        return function

    return register


def load_recipe_arg(name_or_path: str, overrides: Sequence[str]) -> Any:
    """A recipe from a CLI argument: a path or a recipe name, with ``--set`` overrides."""
    from zoo.recipe import load_recipe, locate_recipe

    return load_recipe(locate_recipe(name_or_path), overrides)
