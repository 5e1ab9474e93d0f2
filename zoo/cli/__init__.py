"""The ``zoo`` command, a thin layer over the library: each module parses the arguments of some
subcommands, calls the library, and prints with rich.

- :mod:`zoo.cli.main`: ``main``, the parser, and ``list``, ``summarize``, ``audit``, ``recipe``;
- :mod:`zoo.cli.train`: ``train``, ``eval``, ``plot`` and ``data show``;
- :mod:`zoo.cli.deploy`: ``predict``, ``export`` and ``runs``;
- :mod:`zoo.cli.benchmark`: ``benchmark``;
- :mod:`zoo.cli.common`: what they share (the command table, the consoles).
"""

from zoo.cli.main import main

__all__ = ["main"]
