"""Writing a run directory safely: its name, its lock, and atomic writes.

Writes are atomic — a temporary file in the same directory, flushed to disk, then renamed over
the old one — so a kill at any instant leaves the previous file whole. One process owns a run
directory at a time (design.md): an exclusive ``flock`` on the directory itself, which the kernel
drops when its holder dies, even by ``kill -9``.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import secrets
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

from zoo.errors import ZooError
from zoo.runs.layout import LAST, RUN_FILES, TRAINED_FILES

LOCK_PATIENCE = 0.5
LOCK_RETRY = 0.01
"""How long a trainer tries to lock its run directory, and how often: long enough to outlast
``zoo runs`` probing the lock, short enough that a run in use is reported at once."""

FILE_MODE = 0o666
"""Run files get the permissions of any new file (less the umask), as ``open`` gives."""


def default_run_dir(recipe_name: str, root: Path = Path("runs")) -> Path:
    """Create and return ``runs/<recipe>-<YYYYmmdd-HHMMSS>``, with ``-2``, ``-3``… for runs
    started in the same second. ``mkdir`` is atomic, so two processes never get one directory."""
    stem = root / f"{recipe_name or 'run'}-{datetime.now():%Y%m%d-%H%M%S}"
    path, number = stem, 1
    while True:
        try:
            path.mkdir(parents=True)
            return path
        except FileExistsError:
            number += 1
            path = stem.with_name(f"{stem.name}-{number}")
        except OSError as exc:
            raise ZooError(f"cannot create the run directory {path}: {exc.strerror}") from exc


@contextlib.contextmanager
def locked_run_dir(path: Path, enabled: bool = True) -> Iterator[Path]:
    """Hold an exclusive ``flock`` on the run directory (created if missing) while the block
    runs: one process owns a run directory at a time (design.md). A second process gets a
    :class:`ZooError` at once; the kernel drops the lock when its holder dies, even by
    ``kill -9``. A directory created here and left empty by a failure is removed again."""
    if not enabled:  # DDP ranks other than 0 write nothing
        yield path
        return
    created = not path.exists()
    try:
        path.mkdir(parents=True, exist_ok=True)
        handle = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    except OSError as exc:
        raise ZooError(f"cannot write the run directory {path}: {exc.strerror or exc}") from exc
    try:
        if not _lock(handle):
            raise ZooError(
                f"{path} is in use by another zoo process; wait for it to finish or choose "
                "another --out"
            )
        try:
            with tempfile.NamedTemporaryFile(dir=path):  # a read-only run fails here, not later
                pass
        except OSError as exc:
            raise ZooError(f"cannot write the run directory {path}: {exc.strerror or exc}") from exc
        try:
            yield path
        except BaseException:
            if created:
                with contextlib.suppress(OSError):
                    path.rmdir()  # only succeeds while it is empty
            raise
    finally:
        os.close(handle)  # closing the last descriptor releases the lock


def _lock(handle: int) -> bool:
    """Take the exclusive lock, or report that another process holds it. ``zoo runs`` probes
    locks by taking them for an instant, so a holder is only believed after
    :data:`LOCK_PATIENCE` seconds of failed attempts."""
    deadline = time.monotonic() + LOCK_PATIENCE
    while True:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return True
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN):
                raise
        if time.monotonic() >= deadline:
            return False
        time.sleep(LOCK_RETRY)


def prepare_run_dir(path: Path) -> Path:
    """Create a new run directory and check it is writable; never reuse one that holds trained
    weights (:data:`TRAINED_FILES`). Leftovers of a run stopped in its first epoch are replaced."""
    taken = [name for name in RUN_FILES if (path / name).exists()]
    if any(name in TRAINED_FILES for name in taken):
        hint = f"continue it with `zoo train --resume {path}`" if LAST in taken else "clear it"
        raise ZooError(f"{path} already holds {', '.join(taken)}; {hint} or choose another --out")
    try:
        path.mkdir(parents=True, exist_ok=True)
        for name in taken:  # a first epoch that never finished: nothing of it is kept
            (path / name).unlink()
    except OSError as exc:
        raise ZooError(f"cannot write the run directory {path}: {exc.strerror or exc}") from exc
    return path


def atomic_write(path: Path, write: Callable[[Any], None], mode: str = "wb") -> None:
    """Write through ``write(file)`` to a temporary file, fsync, then rename over ``path``."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)  # umask applies
    try:
        with os.fdopen(handle, mode) as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_text(path: Path, text: str) -> None:
    """Atomically write a text file (the run's ``recipe.toml``, its metrics)."""
    atomic_write(path, lambda file: file.write(text), mode="w")


def is_locked(run_dir: Path) -> bool:
    """Whether a process holds the run's lock: a non-blocking shared ``flock`` on the directory
    fails (and succeeds, and is released at once, when nobody does; a trainer starting in that
    instant tries again, :func:`locked_run_dir`)."""
    try:
        handle = os.open(run_dir, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(handle, fcntl.LOCK_SH | fcntl.LOCK_NB)
        fcntl.flock(handle, fcntl.LOCK_UN)
    except OSError as exc:
        return exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN)
    finally:
        os.close(handle)
    return False
