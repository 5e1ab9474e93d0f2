"""``zoo benchmark PATTERN...``: training and inference throughput, as a table, JSON or CSV."""

from __future__ import annotations

import argparse
import csv
import json
import sys

from rich.table import Table

from zoo.cli.common import command, console, errors
from zoo.errors import ZooError

COLUMNS = (
    "model",
    "batch_size",
    "param_count",
    "macs",
    "train_samples_per_sec",
    "train_step_time",
    "infer_samples_per_sec",
    "infer_step_time",
    "sec_per_epoch",
    "seed_sec_per_epoch",
    "peak_memory_mb",
    "precision",
    "channels_last",
    "device",
    "compile",
    "note",
)
"""The CSV's columns, in order (the JSON has the same keys, and ``input_size``)."""


def add_commands(sub: argparse._SubParsersAction) -> None:
    bench = sub.add_parser(
        "benchmark", help="training and inference images/s of models on synthetic input"
    )
    bench.add_argument("patterns", nargs="+", metavar="PATTERN",
                       help="a model name or a wildcard over presets ('resnet*_v2')")  # fmt: skip
    bench.add_argument("--batch-size", type=int, default=128, metavar="B")
    bench.add_argument("--precision", choices=("auto", "bf16", "fp32"), default="auto")
    bench.add_argument("--channels-last", choices=("auto", "on", "off"), default="auto")
    bench.add_argument("--compile", nargs="?", const="default", default=None, metavar="MODE",
                       help="torch.compile the training step (a mode: default, "
                       "reduce-overhead, max-autotune)")  # fmt: skip
    bench.add_argument("--device", default="auto")
    bench.add_argument("--steps", type=int, default=10, help="timed steps after the warm-up")
    output = bench.add_mutually_exclusive_group()
    output.add_argument("--json", action="store_true", help="print one JSON list")
    output.add_argument("--csv", action="store_true", help="print CSV with a header line")
    bench.set_defaults(handler="benchmark")


def model_names(patterns: list[str]) -> list[str]:
    """The models the patterns name: a wildcard expands over the presets, a name stays."""
    from zoo.architectures import presets

    names: list[str] = []
    for pattern in patterns:
        if any(mark in pattern for mark in "*?["):
            matched = presets.names(pattern)
            if not matched:
                raise ZooError(f"no preset matches {pattern!r}; try `zoo list architectures`")
            names += matched
        else:
            names.append(pattern)
    return list(dict.fromkeys(names))


@command("benchmark")
def benchmark_command(args: argparse.Namespace) -> int:
    from zoo.inspect import load_reference
    from zoo.train.benchmark import benchmark

    names = model_names(args.patterns)
    reference = load_reference()
    results = []
    for name in names:
        if not (args.json or args.csv):
            errors.print(f"zoo: benchmarking {name}", markup=False, highlight=False)
        result = benchmark(
            name,
            batch_size=args.batch_size,
            precision=args.precision,
            channels_last=args.channels_last,
            compile=args.compile or False,
            device=args.device,
            steps=args.steps,
            reference=reference,
        )
        if result.note:
            errors.print(f"zoo: {name}: {result.note}", markup=False, highlight=False)
        results.append(result)
    results.sort(key=lambda result: result.train_samples_per_sec, reverse=True)  # as timm sorts
    if args.json:
        print(json.dumps([result.to_json() for result in results], allow_nan=False))
    elif args.csv:
        writer = csv.DictWriter(sys.stdout, COLUMNS, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(result.to_json() for result in results)
    else:
        console.print(_table(results))
    return 0


def _table(results: list) -> Table:
    first = results[0]
    title = f"{first.device}, {first.precision}, channels_last={first.channels_last}"
    if first.compile:
        title += f", compiled ({first.compile})"
    table = Table(title=title, title_justify="left")
    for heading in ("model", "batch", "params (M)", "MACs (M)", "train img/s", "train ms/step",
                    "infer img/s", "infer ms/step", "s/epoch", "seed s/epoch"):  # fmt: skip
        table.add_column(heading, justify="left" if heading == "model" else "right")
    cuda = any(result.peak_memory_mb is not None for result in results)
    if cuda:
        table.add_column("peak MB", justify="right")
    for result in results:
        cells = [
            result.model,
            str(result.batch_size),
            f"{result.param_count:.3f}",
            "–" if result.macs is None else f"{result.macs / 1e6:,.2f}",
            f"{result.train_samples_per_sec:,.0f}",
            f"{result.train_step_time:.1f}",
            f"{result.infer_samples_per_sec:,.0f}",
            f"{result.infer_step_time:.1f}",
            "–" if result.sec_per_epoch is None else f"{result.sec_per_epoch:,.1f}",
            "–" if result.seed_sec_per_epoch is None else f"{result.seed_sec_per_epoch:g}",
        ]
        if cuda:
            cells.append("–" if result.peak_memory_mb is None else f"{result.peak_memory_mb:,.0f}")
        table.add_row(*cells)
    return table
