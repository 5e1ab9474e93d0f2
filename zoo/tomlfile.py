"""Reading a TOML file a person named (a recipe, a base it extends, an audit reference) with
bounds: only a regular file, at most :data:`MAX_FILE_BYTES`, tables nested at most
:data:`MAX_NESTING` deep. ``extends = "/dev/zero"``, a named pipe, a huge file or TOML nested
ten thousand levels deep is one clear error instead of a hang, exhausted memory or a
``RecursionError``.
"""

from __future__ import annotations

import os
import stat
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from zoo.errors import ZooError

MAX_FILE_BYTES = 1 << 20
"""1 MiB: the shipped recipes are under 2 KiB and the reference table under 10 KiB."""

MAX_NESTING = 32
"""Tables and arrays nested deeper than this are refused (a spec is about five levels deep)."""


def read_toml(path: Path, what: str = "recipe") -> dict[str, Any]:
    """The TOML file at ``path`` as a dict; ``what`` names the kind of file in messages."""
    text = read_text(path, what)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ZooError(f"{path}: invalid TOML: {exc}") from exc
    except RecursionError as exc:  # tomllib recurses once per nested inline table or array
        raise ZooError(f"{path}: invalid {what}: nested too deeply") from exc
    check_nesting(data, str(path))
    return data


def loads_value(text: str) -> Any:
    """One TOML value (``--set`` overrides); raises :class:`tomllib.TOMLDecodeError`, also for
    one nested too deeply to parse or to use."""
    try:
        value = tomllib.loads(f"value = {text}")["value"]
    except RecursionError:
        raise tomllib.TOMLDecodeError("nested too deeply") from None
    if depth(value) > MAX_NESTING:
        raise tomllib.TOMLDecodeError("nested too deeply")
    return value


def read_text(path: Path, what: str) -> str:
    """A regular file's text, at most :data:`MAX_FILE_BYTES`. It is opened without blocking
    and checked with ``fstat`` on the open descriptor, so a FIFO or device is never read."""
    try:
        handle = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except FileNotFoundError as exc:
        raise ZooError(f"{path}: no such {what} file") from exc
    except OSError as exc:
        raise ZooError(f"{path}: cannot read the {what}: {exc.strerror or exc}") from exc
    mode = os.fstat(handle).st_mode
    if not stat.S_ISREG(mode):
        os.close(handle)
        kind = "a directory" if stat.S_ISDIR(mode) else "not a regular file"
        raise ZooError(f"{path}: cannot read the {what}: {kind}")
    with os.fdopen(handle, "rb") as file:
        try:
            data = file.read(MAX_FILE_BYTES + 1)
        except OSError as exc:
            raise ZooError(f"{path}: cannot read the {what}: {exc.strerror or exc}") from exc
    if len(data) > MAX_FILE_BYTES:
        raise ZooError(f"{path}: a {what} file is at most {MAX_FILE_BYTES >> 10} KiB")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ZooError(f"{path}: cannot read the {what}: not UTF-8 text ({exc.reason})") from exc


def depth(value: Any) -> int:
    """How deeply tables and arrays nest in ``value`` (0 for a plain value), without recursion."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, Mapping):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            deepest = max(deepest, level)
            continue
        deepest = max(deepest, level + 1)
        if deepest > MAX_NESTING:
            return deepest
        stack.extend((child, level + 1) for child in children)
    return deepest


def check_nesting(data: Mapping[str, Any], where: str) -> None:
    """Refuse tables nested deeper than :data:`MAX_NESTING` (dotted keys ``a.b.c…`` too)."""
    if depth(data) > MAX_NESTING:
        raise ZooError(f"{where}: tables or arrays nested more than {MAX_NESTING} deep")
