"""``zoo predict``, ``zoo export`` and ``zoo runs``: thin wrappers of the library."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.table import Table
from rich.text import Text

from zoo.cli.common import command, console, errors
from zoo.errors import ZooError, plural

FORMATS = ("onnx", "pt2", "safetensors")
"""What ``zoo export --format`` writes (:mod:`zoo.deploy.export`, kept here so that ``--help``
imports no torch)."""

SHOWN_UNREADABLE = 3
"""Unreadable images named in the one line that reports them."""


def add_commands(sub: argparse._SubParsersAction) -> None:
    predict = sub.add_parser("predict", help="the top classes of images, by a trained model")
    predict.add_argument(
        "checkpoint",
        type=Path,
        metavar="CHECKPOINT",
        help="best.pt, last.pt, a run directory or an exported .safetensors",
    )
    predict.add_argument("paths", nargs="+", metavar="PATH", help="image files or folders")
    predict.add_argument("--top-k", type=int, default=5, metavar="K", help="classes per image")
    predict.add_argument("--json", action="store_true", help="print one JSON list")
    predict.add_argument(
        "--batch-size", type=int, default=None, metavar="B", help="images per batch (default 256)"
    )
    predict.add_argument("--device", default="auto", metavar="D", help="auto, cpu, cuda, mps")
    predict.add_argument(
        "--classes",
        metavar="NAMES",
        help="class names for a checkpoint without them: a,b,c or a file with one per line",
    )
    predict.set_defaults(handler="predict")

    export = sub.add_parser("export", help="a trained model as ONNX, torch.export or safetensors")
    export.add_argument(
        "checkpoint", type=Path, metavar="CHECKPOINT", help="best.pt, last.pt or a run directory"
    )
    export.add_argument(
        "--format",
        required=True,
        metavar="|".join(FORMATS),
        help="onnx, pt2 (torch.export) or safetensors (with a JSON sidecar)",
    )
    export.add_argument("-o", "--out", type=Path, required=True, metavar="FILE")
    export.add_argument(
        "--classes",
        metavar="NAMES",
        help="class names for a checkpoint without them (as for predict)",
    )
    export.set_defaults(handler="export")

    runs = sub.add_parser("runs", help="a table of the runs in a folder, to compare them")
    runs.add_argument(
        "folder",
        type=Path,
        nargs="?",
        default=Path("runs"),
        metavar="FOLDER",
        help="the folder that holds run directories (default: runs)",
    )
    runs.add_argument("--json", action="store_true", help="print one JSON list")
    runs.set_defaults(handler="runs")


def parse_classes(text: str | None) -> list[str] | None:
    """``--classes``: a file with one name per line, or names separated by commas."""
    if text is None:
        return None
    path = Path(text)
    names = path.read_text().splitlines() if path.is_file() else text.split(",")
    names = [name.strip() for name in names if name.strip()]
    if not names:
        raise ZooError(f"--classes {text!r} names no classes")
    return names


@command("predict")
def predict_command(args: argparse.Namespace) -> int:
    from zoo.deploy.predict import DEFAULT_BATCH_SIZE, find_images, predict
    from zoo.deploy.trained import load_trained

    files, not_images = find_images(args.paths)
    if not_images:
        what = "file that is not an image" if not_images == 1 else "files that are not images"
        errors.print(f"zoo: skipped {not_images} {what}")
    if not files:
        raise ZooError(f"no images in {', '.join(args.paths)}")
    trained = load_trained(args.checkpoint, parse_classes(args.classes))
    rows, unreadable = predict(
        trained,
        files,
        top_k=args.top_k,
        batch_size=DEFAULT_BATCH_SIZE if args.batch_size is None else args.batch_size,
        device=args.device,
    )
    if unreadable:
        named = ", ".join(unreadable[:SHOWN_UNREADABLE])
        more = f" and {len(unreadable) - SHOWN_UNREADABLE} more" * (
            len(unreadable) > SHOWN_UNREADABLE
        )
        errors.print(
            f"zoo: skipped {plural(len(unreadable), 'image')} that could not be read: "
            f"{named}{more}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    if not rows:
        raise ZooError(f"none of the {plural(len(files), 'image')} could be read")
    if args.json:
        print(json.dumps([row.to_json() for row in rows], allow_nan=False))
        return 0
    if not console.is_terminal:  # a pipe or a file: one line per image, as `ls` does
        print("image\t" + "\t".join(f"#{rank + 1}" for rank in range(len(rows[0].top))))
        for row in rows:
            print("\t".join([row.image, *(f"{name} {p:.1%}" for name, p in row.top)]))
        return 0
    table = Table(title=Text(str(trained.source)), title_justify="left")
    table.add_column("image", overflow="fold")
    for rank in range(len(rows[0].top)):
        table.add_column(f"#{rank + 1}")
    for row in rows:
        table.add_row(Text(row.image), *(Text(f"{name} {p:.1%}") for name, p in row.top))
    console.print(table)
    return 0


@command("export")
def export_command(args: argparse.Namespace) -> int:
    from zoo.deploy.export import export
    from zoo.deploy.trained import load_trained

    if args.format not in FORMATS:
        raise ZooError(f"unknown export format {args.format!r}; known: {', '.join(FORMATS)}")
    trained = load_trained(args.checkpoint, parse_classes(args.classes))
    result = export(trained, args.format, args.out)
    console.print(
        f"zoo: wrote {', '.join(map(str, result.files))}; largest difference from PyTorch "
        f"{result.difference:.3g} (tolerance {result.tolerance:.3g})",
        markup=False,
        highlight=False,
        soft_wrap=True,
    )
    return 0


@command("runs")
def runs_command(args: argparse.Namespace) -> int:
    from zoo.runs.table import list_runs, wall_time

    runs = list_runs(args.folder)
    if args.json:
        print(json.dumps([run.to_json() for run in runs]))
        return 0
    if not runs:
        console.print(f"no runs in {args.folder}", markup=False)
        return 0
    table = Table(title=Text(f"Runs in {args.folder}"), title_justify="left")
    for column in (
        "name",
        "network",
        "data set",
        "epochs",
        "best val acc",
        "images/s",
        "wall time",
        "state",
    ):
        justify = "right" if column in ("epochs", "best val acc", "images/s", "wall time") else None
        table.add_column(
            column, justify=justify or "left", no_wrap=column == "name", overflow="fold"
        )
    colours = {"finished": "green", "running": "yellow", "stopped": "red", "damaged": "bold red"}
    for run in runs:
        table.add_row(
            Text(run.name),
            Text(run.network),
            Text(run.dataset),
            f"{run.epochs_done}/{run.epochs_total if run.epochs_total is not None else '?'}",
            f"{run.best_val_acc:.2%}" if run.best_val_acc is not None else "–",
            f"{run.images_per_sec:,.0f}" if run.images_per_sec is not None else "–",
            wall_time(run.wall_seconds),
            Text(run.state, style=colours[run.state]),
        )
    console.print(table)
    return 0
