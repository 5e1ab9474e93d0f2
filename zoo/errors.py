"""The exception types that decide zoo's exit codes.

Every error a user can cause by bad input is a :class:`ZooError`: the CLI prints its message as one
line on stderr and exits with code 2 (design.md, "Exit codes"). Anything else is a bug and keeps
its traceback.
"""

from __future__ import annotations


class ZooError(Exception):
    """Bad input from a person: an unknown name, an invalid depth, a bad recipe or data set.

    The message must say what was wrong, where (file and key), and what would be valid.
    """

    exit_code = 2


class UnknownNameError(ZooError, LookupError):
    """A registry lookup for a name that is not registered."""


class DuplicateNameError(ZooError):
    """Two registrations under one name."""


class PluginError(ZooError):
    """A plugin entry point that could not be loaded."""


class CheckFailed(Exception):
    """A check or job that ran and failed (audit mismatch, diverged training): exit code 1."""

    exit_code = 1


def plural(count: int, noun: str) -> str:
    """``1 epoch``, ``2 epochs``: a count in a message."""
    return f"{count} {noun}" + ("" if count == 1 else "s")
