"""``zoo train``, ``zoo eval``, ``zoo plot`` and ``zoo data show``: thin wrappers of the library."""

from __future__ import annotations

import argparse
import contextlib
import json
from collections.abc import Callable
from pathlib import Path

from pydantic import ValidationError

from zoo.cli.common import command, console, errors, load_recipe_arg
from zoo.errors import ZooError
from zoo.validation import raise_for


def add_commands(sub: argparse._SubParsersAction, add_set: Callable) -> None:
    train = sub.add_parser("train", help="train a recipe into a run directory")
    train.add_argument("recipe", nargs="?", metavar="RECIPE", help="a recipe file or name")
    train.add_argument("--resume", type=Path, metavar="RUN_DIR", help="continue a stopped run")
    train.add_argument("--out", type=Path, metavar="RUN_DIR", help="default: runs/<recipe>-<time>")
    train.add_argument("--data-dir", type=Path, metavar="DIR", help="instead of data.root")
    train.add_argument("--no-progress", action="store_true", help="only a line per epoch")
    add_set(train)
    train.set_defaults(handler="train")

    evaluate = sub.add_parser("eval", help="validation loss and accuracy of a checkpoint or run")
    evaluate.add_argument("checkpoint", type=Path, metavar="CHECKPOINT|RUN")
    evaluate.add_argument("--tta", action="store_true", help="average with the mirrored image")
    evaluate.add_argument("--data-dir", type=Path, metavar="DIR", help="instead of data.root")
    evaluate.add_argument("--json", action="store_true", help="print one JSON object")
    evaluate.add_argument(
        "--report", type=Path, metavar="DIR", help="also write a report and two pictures there"
    )
    evaluate.set_defaults(handler="eval")

    plot = sub.add_parser("plot", help="a PNG of runs' loss, accuracy and lr curves, overlaid")
    plot.add_argument("run_dirs", type=Path, nargs="+", metavar="RUN_DIR")
    plot.add_argument(
        "--out", type=Path, help="default: RUN_DIR/curves.png, or comparison.png for several runs"
    )
    plot.set_defaults(handler="plot")

    data = sub.add_parser("data", help="data sets")
    data_sub = data.add_subparsers(dest="data_command", required=True, metavar="COMMAND")
    show = data_sub.add_parser("show", help="a PNG grid of example images per class (the seed's)")
    show.add_argument("dataset", metavar="DATASET", help="cifar10, cifar100, imagefolder, shapes")
    show.add_argument(
        "--data-dir",
        type=Path,
        default=Path("data"),
        metavar="DIR",
        help="the folder of the data set, as data.root (default: data)",
    )
    show.add_argument("--out", type=Path, help="default: DIR/DATASET-examples.png")
    show.set_defaults(handler="data show")


@command("train")
def train_command(args: argparse.Namespace) -> int:
    from torch._dynamo.exc import BackendCompilerFailed

    from zoo.recipe import load_recipe
    from zoo.runs.checkpoint import resume_overrides
    from zoo.runs.files import default_run_dir
    from zoo.runs.layout import LAST, RECIPE_FILE
    from zoo.train.loop import train
    from zoo.train.runtime.signals import Stopped

    if args.resume is not None:
        if args.recipe is not None or args.out is not None:
            raise ZooError("--resume takes the recipe and directory of the run; drop RECIPE/--out")
        run_dir = args.resume
        if not (run_dir / LAST).is_file():
            raise ZooError(f"{run_dir}: no {LAST} to resume from")
        migrated = resume_overrides(run_dir)  # a run of format 1 resumes as it was trained
        recipe = load_recipe(run_dir / RECIPE_FILE, [*migrated, *args.overrides])
    else:
        if args.recipe is None:
            raise ZooError("give a RECIPE to train, or --resume RUN_DIR")
        recipe = load_recipe_arg(args.recipe, args.overrides)
        run_dir = args.out or default_run_dir(recipe.name)
    try:
        result = train(
            recipe,
            run_dir,
            data_root=args.data_dir,
            resume=args.resume is not None,
            show_progress=not args.no_progress,
        )
    except BackendCompilerFailed as exc:
        reason = str(exc.inner_exception).strip().splitlines()[0]
        raise ZooError(
            f"{recipe.source}: train.compile: torch.compile failed ({reason}); it needs a "
            "working C++ compiler on CPU (see torch.compile's troubleshooting), or set "
            "train.compile = false"
        ) from exc
    except Stopped as stopped:
        errors.print(f"zoo: {stopped}", markup=False, highlight=False, soft_wrap=True)
        return stopped.exit_code
    except KeyboardInterrupt:
        if (run_dir / LAST).is_file():
            errors.print(
                f"zoo: stopped. {run_dir / LAST} holds the last finished epoch; continue with "
                f"`zoo train --resume {run_dir}`",
                markup=False,
            )
        else:
            errors.print("zoo: stopped before the first epoch finished; nothing to resume")
        return 130
    finally:
        if args.out is None and args.resume is None:
            with contextlib.suppress(OSError):
                run_dir.rmdir()  # a default directory that a failed start left empty
    if result.is_main:
        console.print(
            f"zoo: best val_acc {result.best_val_acc:.2%}; run directory {run_dir}", markup=False
        )
    return 0


@command("eval")
def eval_command(args: argparse.Namespace) -> int:
    from zoo.train.checkpoint_eval import evaluate_checkpoint

    if args.report is not None:
        from zoo.train.eval_report import write_report

        result, files = write_report(args.checkpoint, args.report, args.data_dir, tta=args.tta)
        if not args.json:
            console.print(f"zoo: wrote {', '.join(map(str, files))}", markup=False)
    else:
        result = evaluate_checkpoint(args.checkpoint, args.data_dir, tta=args.tta)
    if args.json:
        print(json.dumps(result.to_json(), allow_nan=False))
        return 0
    tta = " with flip TTA" if args.tta else ""
    console.print(
        f"{result.name}{tta}: {result.split} loss {result.loss:.4f}, "
        f"{result.split} accuracy {result.accuracy:.2%}",
        markup=False,
    )
    return 0


@command("plot")
def plot_command(args: argparse.Namespace) -> int:
    from zoo.runs.plot import plot_runs

    path = plot_runs(args.run_dirs, args.out)
    console.print(f"zoo: wrote {path}", markup=False)
    return 0


@command("data show")
def data_show_command(args: argparse.Namespace) -> int:
    from zoo.data import DataConfig, load_data, save_example_grid

    try:
        config = DataConfig(dataset=args.dataset, root=args.data_dir)
    except ValidationError as exc:
        raise_for(exc, "zoo data show", DataConfig)
    out = args.out or args.data_dir / f"{args.dataset}-examples.png"
    path = save_example_grid(load_data(config), out)
    console.print(f"zoo: wrote {path}", markup=False)
    return 0
