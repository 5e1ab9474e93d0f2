"""The ``zoo`` command: parse arguments, call the library, print with rich.

Exit codes (design.md): 0 success; 1 a check or job failed; 2 bad input, reported as one line on
stderr without a traceback (``--debug`` shows it).
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import sys
import traceback
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.table import Table
from rich.text import Text

from zoo.cli.common import COMMANDS, command, console, errors, load_recipe_arg
from zoo.errors import CheckFailed, ZooError

__all__ = ["main"]

BROKEN_PIPE_EXIT = 141

OUTPUT_FULL = frozenset({errno.ENOSPC, errno.EFBIG, errno.EDQUOT})
"""Write errors of a full disk, a file size limit or a quota: said in one line, exit 1."""
"""128 + SIGPIPE: what a shell reports for a program whose reader went away (``zoo … | head``)."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``zoo`` with ``argv``; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    warnings.showwarning = _one_line_warning
    try:
        code = COMMANDS[args.handler](args)
        sys.stdout.flush()  # here, so that a closed pipe is caught below, not at exit
        return code
    except ZooError as exc:
        if args.debug:
            traceback.print_exc()
        errors.print(f"zoo: error: {exc}", markup=False, highlight=False, soft_wrap=True)
        return exc.exit_code
    except CheckFailed as exc:
        errors.print(f"zoo: {exc}", markup=False, highlight=False, soft_wrap=True)
        return exc.exit_code
    except KeyboardInterrupt:
        errors.print("zoo: interrupted")
        return 130
    except BrokenPipeError:
        # the reader of our output went away (`zoo list | head`); stop quietly, and point stdout
        # at /dev/null so that Python's final flush does not fail again (Python's signal docs)
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return BROKEN_PIPE_EXIT
    except OSError as exc:
        if exc.errno not in OUTPUT_FULL:
            raise
        # stdout on a full disk (`zoo predict ... > /dev/full`): one line, not a traceback
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        errors.print(f"zoo: error: cannot write the output: {exc.strerror}", markup=False)
        return 1


def _one_line_warning(message: Any, category: Any, *_: Any, **__: Any) -> None:
    errors.print(f"zoo: warning: {message}", markup=False, highlight=False, soft_wrap=True)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="zoo", description="A model zoo of residual networks for CIFAR-style data."
    )
    parser.add_argument("--debug", action="store_true", help="show tracebacks of errors")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    listing = sub.add_parser(
        "list",
        help="list blocks, architectures or recipes",
        usage="zoo list [all|blocks|architectures|recipes] [PATTERN]",
    )
    listing.add_argument(
        "words", nargs="*", metavar="KIND PATTERN", help="what to list and a wildcard filter"
    )
    listing.set_defaults(handler="list")

    summary = sub.add_parser("summarize", help="layers, parameters, depth and MACs of a network")
    summary.add_argument("model", metavar="NAME|RECIPE", help="a model name or a recipe file")
    summary.add_argument(
        "--input-size",
        type=_input_size,
        default=None,
        metavar="C,H,W",
        help="the input to measure with (default: the network's own, 3,32,32 or 3,224,224)",
    )
    summary.add_argument("--json", action="store_true", help="print one JSON object")
    _add_set(summary)
    summary.set_defaults(handler="summarize")

    audit = sub.add_parser("audit", help="check every preset against the documented table")
    audit.add_argument("pattern", nargs="?", default="*", help="wildcard over preset names")
    audit.add_argument("--json", action="store_true", help="print one JSON object")
    audit.add_argument("--reference", type=Path, help="another table in reference.toml's format")
    audit.set_defaults(handler="audit")

    recipe = sub.add_parser("recipe", help="work with recipes")
    recipe_sub = recipe.add_subparsers(dest="recipe_command", required=True, metavar="COMMAND")
    show = recipe_sub.add_parser("show", help="print the resolved recipe")
    show.add_argument("recipe", metavar="RECIPE")
    _add_set(show)
    show.set_defaults(handler="recipe show")

    from zoo.cli.train import add_commands

    add_commands(sub, _add_set)
    from zoo.cli.deploy import add_commands as add_deploy_commands

    add_deploy_commands(sub)
    from zoo.cli.benchmark import add_commands as add_benchmark_commands

    add_benchmark_commands(sub)
    return parser


def _add_set(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a recipe key, e.g. --set train.epochs=3 (the value is TOML)",
    )


def _input_size(text: str) -> tuple[int, int, int]:
    try:
        channels, height, width = (int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected C,H,W such as 3,32,32, got {text!r}") from None
    if min(channels, height, width) < 1:
        raise argparse.ArgumentTypeError(f"sizes must be positive, got {text!r}")
    return channels, height, width


def is_recipe_arg(text: str) -> bool:
    """A recipe rather than a model: a path, or a name that is a recipe's and no model's."""
    from zoo.architectures import resolve
    from zoo.recipe import find_recipes

    path = Path(text)
    if path.suffix == ".toml" or path.exists():
        return True
    try:
        resolve(text)
    except ZooError:
        return any(r.name == text for r in find_recipes())
    return False


@command("list")
def list_command(args: argparse.Namespace) -> int:
    from zoo.architectures import architectures, presets
    from zoo.blocks import blocks
    from zoo.recipe import find_recipes

    kinds = ["blocks", "architectures", "recipes"]
    words = list(args.words)
    if words and words[0] == "all":  # the documented spelling of the default
        words.pop(0)
    shown = [words.pop(0)] if words and words[0] in kinds else kinds
    if len(words) > 1:
        raise ZooError(f"zoo list takes a kind ({', '.join(kinds)}) and one PATTERN, got {words}")
    pattern = words[0] if words else "*"
    tables = []
    if "blocks" in shown:
        table = _table("Blocks", "name", "origin", "what it is")
        for entry in blocks.entries(pattern):
            table.add_row(entry.name, entry.origin, _first_line(entry.obj))
        _add_broken(table, blocks.broken())
        tables.append(table)
    if "architectures" in shown:
        table = _table("Architectures", "name", "kind", "origin", "what it is")
        for entry in architectures.entries(pattern):
            table.add_row(entry.name, "family", entry.origin, _first_line(entry.obj))
        for entry in presets.entries(pattern):
            preset = entry.obj
            table.add_row(preset.name, f"preset of {preset.arch}", entry.origin, preset.description)
        _add_broken(table, architectures.broken())
        tables.append(table)
    if "recipes" in shown:
        table = _table("Recipes", "name", "origin", "path")
        for recipe in find_recipes(pattern):
            table.add_row(recipe.name, recipe.origin, str(recipe.path))
        tables.append(table)
    matched = [table for table in tables if table.row_count or len(shown) == 1]
    for table in matched:
        console.print(table)
    if not matched:
        console.print(f"nothing matches {pattern!r}")
    return 0


def _table(title: str, *columns: str) -> Table:
    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column, overflow="fold")
    return table


def _add_broken(table: Table, broken: Sequence[Any]) -> None:
    for entry in broken:
        cells = [entry.name, entry.origin, Text(f"failed to load: {entry.error}", style="red")]
        cells[1:1] = [""] * (len(table.columns) - len(cells))
        table.add_row(*cells)


def _first_line(obj: Any) -> str:
    return (getattr(obj, "__doc__", None) or "").strip().split("\n")[0].replace("``", "")


@command("summarize")
def summarize_command(args: argparse.Namespace) -> int:
    import torch

    from zoo.architectures.create import model_by_name
    from zoo.architectures.external import default_input_size
    from zoo.inspect import summarize
    from zoo.inspect.report import comparison_lines, summary_table

    reference_name = None
    if is_recipe_arg(args.model):
        recipe = load_recipe_arg(args.model, args.overrides)
        if getattr(recipe.model, "preset", None) and not recipe.model.model_extra:
            reference_name = recipe.model.preset
        name = recipe.name
        build = lambda: recipe.build(weights=False)  # noqa: E731  (errors name the recipe)
    else:
        if args.overrides:
            raise ZooError("--set needs a recipe; for a model name, write a recipe")
        reference_name = name = args.model
        build = lambda: model_by_name(args.model)  # noqa: E731  (errors name the model)
    with torch.device("meta"):
        network = build()
    name = getattr(getattr(network, "spec", None), "name", name)
    input_size = args.input_size or default_input_size(network)
    expected_channels = default_input_size(network)[0]
    if input_size[0] != expected_channels:
        raise ZooError(
            f"--input-size has {input_size[0]} channels, but {name} takes {expected_channels}"
        )
    try:
        summary = summarize(network, input_size, name=name)
    except RuntimeError as exc:
        raise ZooError(f"{name} cannot take input {input_size}: {exc}") from exc
    if args.json:
        print(json.dumps(summary.to_json()))
        return 0
    console.print(summary_table(summary))
    for line in comparison_lines(summary, reference_name):
        console.print(line)
    return 0


@command("audit")
def audit_command(args: argparse.Namespace) -> int:
    from zoo.inspect import audit, load_reference
    from zoo.inspect.report import audit_table

    results = audit(args.pattern, load_reference(args.reference))
    failed = [result.name for result in results if not result.ok]
    if args.json:
        print(json.dumps({"ok": not failed, "presets": [r.to_json() for r in results]}))
    else:
        console.print(audit_table(results))
        for result in results:
            for note in result.notes:
                console.print(f"[yellow]note:[/yellow] {note}")
            for check in result.checks:
                if not check.ok:
                    console.print(f"[red]FAIL[/red] {result.name}: {check.describe()}")
    if failed:
        raise CheckFailed(
            f"audit: {len(failed)} of {len(results)} presets failed: " + ", ".join(failed)
        )
    if not args.json:
        console.print(
            f"[green]audit: all {len(results)} presets match the documented table[/green]"
        )
    return 0


@command("recipe show")
def recipe_show_command(args: argparse.Namespace) -> int:
    import torch

    recipe = load_recipe_arg(args.recipe, args.overrides)
    with torch.device("meta"):
        recipe.build(weights=False)
    print(recipe.to_toml(), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
