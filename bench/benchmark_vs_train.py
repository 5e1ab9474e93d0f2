"""Does ``zoo benchmark``'s training figure predict ``zoo train``? The two at the same batch.

One model (the seed's ResNet-20 v1, recipes/resnet20_v1.toml), one batch size (128 by default),
this machine's defaults for precision, memory format and compile. It reports

  a. ``zoo benchmark``'s ``train_samples_per_sec`` (synthetic images already on the device);
  b. ``zoo train``'s images/s, the median of the epochs after the first, on CIFAR-format files
     written here (5,000 training images by default), with the recipe's augmentation;

and b/a, which issue #19 asks to lie within 0.8-1.25.

    python bench/benchmark_vs_train.py [--train-images 5000] [--epochs 4] [--batch-size 128]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import median_after_warmup, write_cifar10

from zoo.recipe import load_recipe
from zoo.train.benchmark import benchmark
from zoo.train.loop import train

RECIPE = Path(__file__).resolve().parents[1] / "recipes" / "resnet20_v1.toml"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--train-images", type=int, default=5000)
    parser.add_argument("--epochs", type=int, default=4, help="zoo train epochs, 1 is warm-up")
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=20, help="zoo benchmark's timed steps")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    predicted = benchmark("resnet20_v1", batch_size=args.batch_size, steps=args.steps)
    with tempfile.TemporaryDirectory() as folder:
        root = write_cifar10(Path(folder) / "data", args.train_images, 500)
        overrides = [
            f"data.root={json.dumps(str(root))}",
            "data.download=false",
            f"train.epochs={args.epochs}",
            f"train.batch_size={args.batch_size}",
        ]
        run = train(load_recipe(RECIPE, overrides), Path(folder) / "run", quiet=True)
    rates = [row["images_per_sec"] for row in run.metrics]
    trained = median_after_warmup(rates)
    ratio = trained / predicted.train_samples_per_sec
    print(
        f"resnet20_v1, batch {args.batch_size}, {predicted.device}, {predicted.precision}, "
        f"channels_last={predicted.channels_last}"
    )
    print(f"a. zoo benchmark  {predicted.train_samples_per_sec:8.0f} images/s")
    shown = ", ".join(f"{rate:.0f}" for rate in rates)
    print(f"b. zoo train      {trained:8.0f} images/s  (epochs: {shown})")
    print(f"b/a = {ratio:.2f}  (asked: 0.8-1.25)")
    if args.json:
        args.json.write_text(
            json.dumps({"benchmark": predicted.to_json(), "train": rates, "ratio": ratio}, indent=2)
        )


if __name__ == "__main__":
    main()
