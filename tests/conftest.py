"""Shared fixtures: the reference table and a runner for the CLI in-process."""

from __future__ import annotations

import os
import tomllib
import urllib.error
from dataclasses import dataclass
from pathlib import Path

import pytest
import torch

if os.environ.get("PYTEST_XDIST_WORKER_COUNT"):  # pytest -n N: each worker its share of cores,
    # and the processes it starts the same count (a run resumed in another process must compute
    # with as many threads to give the same weights)
    THREADS = max(1, (os.cpu_count() or 1) // int(os.environ["PYTEST_XDIST_WORKER_COUNT"]))
    os.environ["OMP_NUM_THREADS"] = str(THREADS)
    torch.set_num_threads(THREADS)
    for name in ("COLUMNS", "LINES"):  # xdist gives its workers 80×24, which rich would take
        os.environ.pop(name, None)  # as a fixed width when zoo's consoles are made, below

from zoo.cli import main  # after the environment is set

REPO = Path(__file__).resolve().parents[1]
SHARED_REFERENCE = REPO.parent / "shared" / "reference" / "reference_figures.toml"


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def run_zoo(capsys, monkeypatch):
    """Run ``zoo ARGS`` in this process (wide console) and capture its output."""
    monkeypatch.setenv("COLUMNS", "200")

    def run(*args: str) -> Result:
        code = main(list(args))
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)

    return run


@pytest.fixture(scope="session")
def reference() -> dict:
    from zoo.inspect import load_reference

    return load_reference()


@pytest.fixture(scope="session")
def shared_reference() -> dict | None:
    if not SHARED_REFERENCE.exists():
        return None
    return tomllib.loads(SHARED_REFERENCE.read_text("utf-8"))


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test downloads: any download attempt fails as it would offline."""

    def offline(url: str, *args: object, **kwargs: object) -> None:
        raise urllib.error.URLError(f"offline test: {url}")

    monkeypatch.setattr("zoo.data.cifar.download_and_extract_archive", offline)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Modules with slow tests first, each kept whole (its module fixtures are made once): under
    ``pytest -n``, the long tests then start at once and overlap the many short ones, instead of
    leaving one worker alone with a two-minute training at the end."""
    slow_modules = {item.module for item in items if item.get_closest_marker("slow")}
    order = {id(item): index for index, item in enumerate(items)}

    def rank(item: pytest.Item) -> tuple[int, int]:
        name = item.path.name
        first = 0 if name in LONGEST else 1 if item.module in slow_modules else 2
        return first, order[id(item)]

    items.sort(key=rank)


LONGEST = ("test_train_quickstart.py", "test_bench.py")
"""The modules of the longest tests (``--durations``: the quickstart's seven epochs, about two
minutes on one core, and the benchmark scripts), started before all others."""
