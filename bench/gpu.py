"""GPU benchmark: seconds per epoch of the zoo trainer against the hand-written loop.

For resnet20_v1, resnet56_v2 and resnet110_v1, at the seed's batch size (32) and the paper's
(128), on synthetic CIFAR-format data (50,000 training images), both sides train the same
recipe — SGD (lr 0.1, momentum 0.9, weight decay 1e-4 on all parameters, constant lr), 4-pixel
padded random crops and horizontal flips, cross-entropy without smoothing — and it times

  zoo     — ``zoo.train.loop.train`` with its fast defaults: the data set on the GPU as uint8,
            batched augmentation there, bf16 autocast, channels_last, fused optimiser, no
            per-step synchronisation, and torch.compile (mode reduce-overhead: CUDA graphs);
            cuDNN benchmarking on, TF32 as torch's defaults leave it (convolutions only);
  by hand — bench/common.py's loop: PIL transforms in DataLoader workers, fp32 with TF32 off
            (so fp32 means fp32), cuDNN benchmarking on, and the ``loss.item()`` per step that
            tutorials print.

Each side's flags are set before each of its cases (:data:`SETTINGS`), so nothing one side sets
carries into the other. Each figure is the median of the epochs after the first (4 by default);
the first epoch, which compiles, records the CUDA graphs and autotunes cuDNN, is reported on its
own, with the compile time of the training graph. Dynamo starts afresh for each case, and a case
that ran any part uncompiled stops the script.

``--cpu`` runs the same code on the CPU with tiny sizes, compiled by Dynamo alone (its "eager"
backend: the same tracing, guards, recompiles and resets, without the minutes inductor's code
generation takes on a CPU), so that CI checks the script where it has no GPU.

    bash bench/gpu.sh --json gpu.json    # on a CUDA machine
    bash bench/gpu.sh --cpu              # anywhere
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from checkout import REPO, missing_package, use_checkout

use_checkout()
try:
    import torch
    import torch._dynamo
    from common import hand_written_epoch_timer, write_cifar10
    from torch._dynamo.utils import compilation_time_metrics, counters

    import zoo
    from zoo.recipe import load_recipe
    from zoo.train.loop import train
except ModuleNotFoundError as error:
    missing_package(error, "bench/gpu.py")

RECIPE = REPO / "recipes" / "resnet20_v1.toml"
"""The paper's recipe (SGD, crop and flip), with each model in turn."""
MODELS = ("resnet20_v1", "resnet56_v2", "resnet110_v1")
MEASURED_EPOCHS = 4
"""Epochs timed after the first, on a GPU."""

SAME_TRAINING = (
    'optim.name="sgd"',
    "optim.lr=0.1",
    "optim.momentum=0.9",
    "optim.nesterov=false",
    "optim.weight_decay=1e-4",
    'optim.decay_on="all"',
    'schedule.name="constant"',
    'data.augment=["crop", "flip"]',
    "train.label_smoothing=0.0",
)
"""What the recipe must say so that zoo trains what bench/common.py's loop trains."""

SETTINGS = {
    "zoo": {"cudnn.benchmark": True, "cudnn.allow_tf32": True, "matmul.allow_tf32": False},
    "hand": {"cudnn.benchmark": True, "cudnn.allow_tf32": False, "matmul.allow_tf32": False},
}
"""The global backend flags of each side. zoo's are what its trainer runs with by default
(it turns cuDNN benchmarking on; the TF32 flags are torch's defaults, and touch only what bf16
autocast leaves in fp32); the hand-written loop is fp32 for real, with benchmarking on too."""


def use_settings(side: str) -> None:
    flags = SETTINGS[side]
    torch.backends.cudnn.benchmark = flags["cudnn.benchmark"]
    torch.backends.cudnn.allow_tf32 = flags["cudnn.allow_tf32"]
    torch.backends.cuda.matmul.allow_tf32 = flags["matmul.allow_tf32"]


def fresh_dynamo() -> None:
    """Empty Dynamo's caches and counters. All cases run in one process, and Dynamo allows a
    function 8 recompiles (``recompile_limit``): shared caches would leave later cases to run
    uncompiled, with figures that are not zoo's."""
    torch._dynamo.reset()
    counters.clear()
    compilation_time_metrics.clear()


def compiled(case: str) -> tuple[int, float]:
    """The graphs Dynamo compiled for ``case`` and the first one's (training's) compile seconds;
    exit if any part of the case ran uncompiled (a graph break, or nothing compiled)."""
    graphs = counters["stats"]["unique_graphs"]
    breaks = sum(counters["graph_break"].values())
    if graphs == 0 or breaks:
        raise SystemExit(
            f"bench/gpu.py: {case} did not run compiled ({graphs} graphs, {breaks} graph "
            "breaks), so its figures would not be zoo's"
        )
    times = compilation_time_metrics.get("_compile.compile_inner") or [float("nan")]
    return graphs, times[0]  # nan where this torch times compiles under another name


def zoo_case(model: str, root: Path, args: argparse.Namespace, batch: int, out: Path) -> dict:
    use_settings("zoo")
    fresh_dynamo()
    overrides = [
        f"model.preset={model}",
        f"data.root={json.dumps(str(root))}",
        "data.download=false",
        *SAME_TRAINING,
        f"train.epochs={args.epochs}",
        f"train.batch_size={batch}",
        f"train.device={args.device}",
    ]
    if args.compile != "off":
        overrides.append(f"train.compile={json.dumps(args.compile)}")
    run = train(load_recipe(RECIPE, overrides), out, quiet=True)
    seconds = [row["train_seconds"] for row in run.metrics]
    rates = [row["images_per_sec"] for row in run.metrics]
    graphs, compile_s = compiled(f"{model} batch {batch}") if args.compile != "off" else (0, 0.0)
    median = statistics.median(seconds[1:])
    return {
        "zoo_s_per_epoch": median,
        "zoo_images_per_s": statistics.median(rates[1:]),
        "zoo_first_epoch_s": seconds[0],
        "zoo_compile_s": compile_s,
        "zoo_graphs": graphs,
        "zoo_epochs_s": seconds,
    }


def hand_case(model: str, root: Path, args: argparse.Namespace, batch: int) -> dict:
    use_settings("hand")
    epoch = hand_written_epoch_timer(
        zoo.build_model(model), root, batch, args.workers, torch.device(args.device)
    )
    seconds = [args.train_images / epoch() for _ in range(args.hand_epochs)]
    median = statistics.median(seconds[1:])
    return {
        "hand_s_per_epoch": median,
        "hand_images_per_s": args.train_images / median,
        "hand_first_epoch_s": seconds[0],
        "hand_epochs_s": seconds,
    }


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cpu", action="store_true", help="CPU and tiny sizes (for CI)")
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--batch-sizes", default="32,128")
    parser.add_argument("--train-images", type=int)
    parser.add_argument("--test-images", type=int)
    parser.add_argument("--epochs", type=int, help="zoo epochs per case (the first is warm-up)")
    parser.add_argument("--hand-epochs", type=int, help="hand-written epochs per case (likewise)")
    parser.add_argument("--workers", type=int, default=min(8, os.cpu_count() or 1))
    parser.add_argument(
        "--compile", default="reduce-overhead", help="torch.compile mode for zoo, or off"
    )
    parser.add_argument("--json", type=Path, help="also write the results here (after each case)")
    args = parser.parse_args()
    if args.cpu:
        args.device, args.train_images = "cpu", args.train_images or 160
        args.test_images = args.test_images or 32
        args.epochs, args.hand_epochs = args.epochs or 2, args.hand_epochs or 2
        args.workers = min(args.workers, 2)
        args.compile = "off" if args.compile == "off" else "default"
        # Dynamo without inductor (see the module docstring); the trainer calls torch.compile
        torch.compile = functools.partial(torch.compile, backend="eager")
    else:
        if not torch.cuda.is_available():
            parser.error("no CUDA GPU here; use --cpu")
        args.device, args.train_images = "cuda", args.train_images or 50_000
        args.test_images = args.test_images or 1000
        args.epochs = args.epochs or 1 + MEASURED_EPOCHS
        args.hand_epochs = args.hand_epochs or 1 + MEASURED_EPOCHS
    if min(args.epochs, args.hand_epochs) < 2:
        parser.error("--epochs and --hand-epochs must be at least 2: the first is warm-up")
    return args


def write_json(path: Path | None, header: dict[str, Any], rows: list[dict]) -> None:
    if path is not None:
        path.write_text(json.dumps(header | {"rows": rows}, indent=1))


def main() -> None:
    args = parse_args()
    limit = "fail_on_recompile_limit_hit"  # never a silent fall-back to eager
    if not hasattr(torch._dynamo.config, limit):
        limit = "fail_on_cache_limit_hit"  # its older name
    setattr(torch._dynamo.config, limit, True)
    gpu = torch.cuda.get_device_name() if args.device == "cuda" else "CPU"
    header = {"device": gpu, "torch": torch.__version__, "settings": SETTINGS}
    print(f"{gpu}, torch {torch.__version__}, {args.train_images:,} images, compile {args.compile}")
    for side, flags in SETTINGS.items():
        print(f"  {side:4s} " + ", ".join(f"{name}={value}" for name, value in flags.items()))

    started = time.perf_counter()
    rows: list[dict] = []
    with tempfile.TemporaryDirectory() as folder:
        root = write_cifar10(Path(folder) / "data", args.train_images, args.test_images)
        for model in args.models.split(","):
            for batch in map(int, args.batch_sizes.split(",")):
                out = Path(folder) / f"{model}-{batch}"
                row = {"model": model, "batch": batch}
                row |= zoo_case(model, root, args, batch, out)
                row |= hand_case(model, root, args, batch)
                row["speedup"] = row["zoo_images_per_s"] / row["hand_images_per_s"]
                rows.append(row)
                write_json(args.json, header, rows)
                print(
                    f"{model:13s} batch {batch:4d}  zoo {row['zoo_s_per_epoch']:7.2f} s/epoch "
                    f"{row['zoo_images_per_s']:9,.0f} img/s (first epoch "
                    f"{row['zoo_first_epoch_s']:.1f} s, compile {row['zoo_compile_s']:.1f} s, "
                    f"{row['zoo_graphs']} graphs)   by hand {row['hand_s_per_epoch']:7.2f} s/epoch "
                    f"{row['hand_images_per_s']:9,.0f} img/s (first epoch "
                    f"{row['hand_first_epoch_s']:.1f} s)   {row['speedup']:5.1f}x",
                    flush=True,
                )
    print(f"total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
