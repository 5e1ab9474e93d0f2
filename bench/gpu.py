"""GPU benchmark: seconds per epoch of the zoo trainer against the hand-written loop.

For resnet20_v1, resnet56_v2 and resnet110_v1, at the seed's batch size (32) and the paper's
(128), on synthetic CIFAR-format data (50,000 training images), it times

  zoo     — ``zoo.train.loop.train`` with the recipe's fast defaults: the data set on the GPU as
            uint8, batched augmentation there, bf16 autocast, channels_last, fused optimiser,
            no per-step synchronisation, and torch.compile (mode reduce-overhead: CUDA graphs);
  by hand — bench/common.py's loop: PIL transforms in DataLoader workers, fp32, SGD, and the
            ``loss.item()`` per step that tutorials print;

and prints s/epoch, images/s and the ratio, each the median of the epochs after the first
(which pays for compilation). ``--cpu`` runs the same code on the CPU with tiny sizes, so that CI
checks the script works where it has no GPU.

    bash bench/gpu.sh            # on a CUDA machine, under 5 minutes on one H200 (the target)
    bash bench/gpu.sh --cpu      # anywhere
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import hand_written_epoch_timer, write_cifar10

import zoo
from zoo.recipe import load_recipe
from zoo.train.loop import train

RECIPES = Path(__file__).resolve().parents[1] / "recipes"
MODELS = ("resnet20_v1", "resnet56_v2", "resnet110_v1")


def zoo_seconds(model: str, root: Path, args: argparse.Namespace, batch: int, out: Path) -> list:
    overrides = [
        f"model.preset={model}",
        f"data.root={json.dumps(str(root))}",
        "data.download=false",
        f"train.epochs={args.epochs}",
        f"train.batch_size={batch}",
        f"train.device={args.device}",
    ]
    if args.compile != "off":
        overrides.append(f"train.compile={json.dumps(args.compile)}")
    recipe = load_recipe(RECIPES / f"{model}.toml", overrides)
    run = train(recipe, out, quiet=True)
    return [row["train_seconds"] for row in run.metrics]


def hand_seconds(model: str, root: Path, args: argparse.Namespace, batch: int) -> list:
    epoch = hand_written_epoch_timer(
        zoo.build_model(model), root, batch, args.workers, torch.device(args.device)
    )
    return [args.train_images / epoch() for _ in range(args.hand_epochs)]


def after_warmup(values: list) -> float:
    return statistics.median(values[1:] or values)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cpu", action="store_true", help="CPU and tiny sizes (for CI)")
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--batch-sizes", default="32,128")
    parser.add_argument("--train-images", type=int)
    parser.add_argument("--epochs", type=int, help="zoo epochs per case (the first is warm-up)")
    parser.add_argument("--hand-epochs", type=int, help="hand-written epochs per case")
    parser.add_argument("--workers", type=int, default=min(8, os.cpu_count() or 1))
    parser.add_argument(
        "--compile", default="reduce-overhead", help="torch.compile mode for zoo, or off"
    )
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    if args.cpu:
        args.device, args.train_images = "cpu", args.train_images or 256
        args.epochs, args.hand_epochs = args.epochs or 2, args.hand_epochs or 2
        args.compile, args.workers = "off", min(args.workers, 2)
    else:
        if not torch.cuda.is_available():
            parser.error("no CUDA GPU here; use --cpu")
        args.device, args.train_images = "cuda", args.train_images or 50_000
        args.epochs, args.hand_epochs = args.epochs or 3, args.hand_epochs or 2
    gpu = torch.cuda.get_device_name() if args.device == "cuda" else "CPU"
    print(f"{gpu}, torch {torch.__version__}, {args.train_images:,} images, compile {args.compile}")

    started = time.perf_counter()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        root = write_cifar10(Path(folder) / "data", args.train_images, 1000)
        for model in args.models.split(","):
            for batch in map(int, args.batch_sizes.split(",")):
                out = Path(folder) / f"{model}-{batch}"
                ours = after_warmup(zoo_seconds(model, root, args, batch, out))
                theirs = after_warmup(hand_seconds(model, root, args, batch))
                rows.append(
                    {
                        "model": model,
                        "batch": batch,
                        "zoo_s_per_epoch": ours,
                        "zoo_images_per_s": args.train_images / ours,
                        "hand_s_per_epoch": theirs,
                        "hand_images_per_s": args.train_images / theirs,
                        "speedup": theirs / ours,
                    }
                )
                print(
                    f"{model:13s} batch {batch:4d}  zoo {ours:7.2f} s/epoch "
                    f"{args.train_images / ours:9,.0f} img/s   by hand {theirs:7.2f} s/epoch "
                    f"{args.train_images / theirs:9,.0f} img/s   {theirs / ours:5.1f}x",
                    flush=True,
                )
    print(f"total {time.perf_counter() - started:.0f} s")
    if args.json:
        args.json.write_text(json.dumps({"device": gpu, "torch": torch.__version__, "rows": rows}))


if __name__ == "__main__":
    main()
