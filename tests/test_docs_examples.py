"""The shell examples in docs/ and README.md run, and print what the pages show.

Every ``$ zoo …`` line of a ``console`` block whose command needs no training, data set or
network (``list``, ``summarize``, ``audit``, ``recipe show``) is run in this process, and the
lines shown under it must appear in its output, in order (``...`` or ``…`` alone on a line
stands for lines left out). The width is the page's own ``COLUMNS=N`` prefix, else 100. Exit
codes other than 0 are shown as ``zoo: error:`` lines, which must match too. Usage synopses
(``NAME|RECIPE``, ``[--json]``) are not run, nor a block after the line :data:`SKIP`.

After a change of output, ``python tests/test_docs_examples.py --update`` rewrites the shown
outputs from the program's; read the diff before committing it.
"""

from __future__ import annotations

import functools
import io
import re
import shlex
import sys
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PAGES = [*sorted((REPO / "docs").glob("*.md")), REPO / "README.md"]
RUNNABLE = ("list", "summarize", "audit", "recipe")
"""Commands that run in seconds without data, training or a network."""

DEFAULT_COLUMNS = 100

SKIP = "<!-- docs-examples: not run -->"
"""Put on the line before a ``console`` block whose commands need more than zoo (a plugin)."""
ELISION = {"...", "…"}


@dataclass
class Example:
    page: Path
    line: int
    command: str
    shown: list[str]
    columns: int

    @property
    def id(self) -> str:
        return f"{self.page.name}:{self.line}"


def examples() -> list[Example]:
    """The runnable ``$ zoo`` examples of every page, with the output lines shown."""
    found = []
    for page in PAGES:
        lines = page.read_text("utf-8").splitlines()
        in_console = False
        current: Example | None = None
        for number, line in enumerate(lines, 1):
            if line.startswith("```"):
                skipped = number > 1 and lines[number - 2].strip() == SKIP
                in_console = not in_console and line.strip() == "```console" and not skipped
                current = None
                continue
            if not in_console:
                continue
            match = re.match(r"\$ (?:COLUMNS=(\d+) )?(zoo .*)$", line)
            if match:
                try:
                    words = shlex.split(match[2], comments=True)
                except ValueError:  # a command the page shows as text, not to run
                    words = []
                synopsis = any("[" in word or "|" in word or word.isupper() for word in words)
                runnable = len(words) > 1 and words[1] in RUNNABLE and not synopsis
                columns = int(match[1]) if match[1] else DEFAULT_COLUMNS
                command = shlex.join(words)
                current = Example(page, number, command, [], columns) if runnable else None
                if current:
                    found.append(current)
            elif line.startswith("$"):
                current = None
            elif current is not None:
                current.shown.append(line)
    return found


def run(example: Example) -> str:
    """The command's stdout and stderr, as the page would show them."""
    return output(example.command, example.columns)


@functools.cache
def output(command: str, columns: int) -> str:
    """What ``command`` prints at ``columns``: run once for all the pages that show it (``zoo
    audit`` appears on several, and reads no file that a test changes)."""
    from zoo.cli import main

    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("COLUMNS", str(columns))
        patch.chdir(REPO)
        out, err = io.StringIO(), io.StringIO()
        with redirect_stdout(out), redirect_stderr(err):
            main(shlex.split(command)[1:])
    return out.getvalue() + err.getvalue()


def in_order(shown: list[str], actual: list[str]) -> str | None:
    """The first shown line missing from ``actual`` (in order), or None."""
    position = 0
    for line in (line.rstrip() for line in shown):
        if not line or line.strip() in ELISION:
            continue
        while position < len(actual) and actual[position].rstrip() != line:
            position += 1
        if position == len(actual):
            return line
        position += 1
    return None


@pytest.mark.parametrize("example", examples(), ids=lambda example: example.id)
def test_the_example_prints_what_the_page_shows(example):
    actual = run(example).splitlines()
    missing = in_order(example.shown, actual)
    assert missing is None, (
        f"{example.id}: `{example.command}` does not print {missing!r}; it prints:\n"
        + "\n".join(actual[:40])
    )


def test_the_pages_have_runnable_examples():
    assert len(examples()) >= 20


def update() -> None:
    """Rewrite each example's shown output with what the program prints now."""
    for page in PAGES:
        page_examples = [e for e in examples() if e.page == page]
        if not page_examples:
            continue
        lines = page.read_text("utf-8").splitlines()
        for example in reversed(page_examples):  # from the end: line numbers stay valid
            start = example.line  # the first output line, 0-based
            end = start + len(example.shown)
            actual = [line.rstrip() for line in run(example).splitlines()]
            lines[start:end] = actual
        page.write_text("\n".join(lines) + "\n", "utf-8")


if __name__ == "__main__" and "--update" in sys.argv:
    update()
