"""What every ``zoo`` subcommand module shares: the table of commands, the consoles, and reading a
recipe argument.

It is its own module so that :mod:`zoo.cli` and :mod:`zoo.cli.train` both import it and not
each other: with that cycle, ``python -m zoo.cli`` ran ``zoo/cli.py`` as ``__main__`` while
``zoo.cli.train`` registered its commands in a second copy of it (``KeyError: 'plot'``).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from typing import Any

from zoo.console import Output

Handler = Callable[[argparse.Namespace], int]

COMMANDS: dict[str, Handler] = {}
"""Subcommand name (``"data show"``) → its handler."""

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
