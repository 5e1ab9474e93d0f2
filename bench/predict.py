"""Inference benchmark: ``zoo predict`` against a hand-written loop, and onnxruntime against eager.

1. A folder of JPEG images (5,000 by default, 64×64, written here) labelled by one model — the
   seed's ResNet-20 v1 at 32×32 — two ways, in images/s (the median of ``--repeats`` passes):

   a. ``zoo predict``'s library path (:func:`zoo.deploy.predict.predict`): PIL decoding in
      DataLoader workers, uint8 batches, normalisation on the device, the trainer's fast
      defaults (bf16 autocast and channels_last where native);
   b. the hand-written loop: torchvision ``ImageFolder`` with ``Resize``, ``CenterCrop``,
      ``ToTensor`` and ``Normalize``, a ``DataLoader`` with the same workers and batch size, and
      the model in fp32 under ``torch.no_grad``, softmax and top-5.

2. The same model with its normalisation inside (:class:`zoo.deploy.export.Deployable`) under
   onnxruntime (CPU) and in torch eager (fp32), at batch 1 and batch 64, in images/s.

    python bench/predict.py [--images 5000] [--batch-size 256] [--repeats 3] [--seconds 3]
                            [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torchvision import datasets, transforms

import zoo
from zoo.deploy.export import Deployable, write_onnx
from zoo.deploy.predict import find_images, predict, workers_for
from zoo.deploy.trained import TrainedModel

MODEL = "resnet20_v1"
SIZE = (32, 32)
MEAN, STD = (0.49, 0.48, 0.45), (0.25, 0.24, 0.26)
"""Statistics of the CIFAR-10 kind; any fixed values serve for timing."""


def write_images(folder: Path, count: int, side: int) -> None:
    """``count`` random JPEGs of ``side``×``side`` in ImageFolder's layout (one class)."""
    rng = np.random.default_rng(0)
    (folder / "images").mkdir(parents=True)
    for index in range(count):
        pixels = rng.integers(0, 256, (side, side, 3), np.uint8)
        Image.fromarray(pixels).save(folder / "images" / f"{index:05d}.jpg", quality=90)


def trained_model() -> TrainedModel:
    network = zoo.build_model(MODEL).eval()
    return TrainedModel(
        network=network,
        classes=[f"class{i}" for i in range(10)],
        image_size=SIZE,
        mean=torch.tensor(MEAN).view(3, 1, 1),
        std=torch.tensor(STD).view(3, 1, 1),
        recipe="",
        source=Path(MODEL),
    )


def zoo_rate(trained: TrainedModel, folder: Path, batch_size: int) -> float:
    started = time.perf_counter()
    files, _ = find_images([folder])
    rows, _ = predict(trained, files, top_k=5, batch_size=batch_size, device="cpu")
    return len(rows) / (time.perf_counter() - started)


def hand_written_rate(network: torch.nn.Module, folder: Path, batch_size: int, workers: int):
    started = time.perf_counter()
    transform = transforms.Compose(
        [
            transforms.Resize(SIZE[0]),
            transforms.CenterCrop(SIZE),
            transforms.ToTensor(),
            transforms.Normalize(MEAN, STD),
        ]
    )
    data = datasets.ImageFolder(str(folder), transform=transform)
    loader = torch.utils.data.DataLoader(data, batch_size=batch_size, num_workers=workers)
    results = []
    with torch.no_grad():
        for images, _ in loader:
            top = network(images).softmax(1).topk(5)
            results.append((top.values.tolist(), top.indices.tolist()))
    return len(data) / (time.perf_counter() - started)


def runtime_rates(trained: TrainedModel, batch: int, seconds: float = 3.0) -> dict[str, float]:
    """Images/s of onnxruntime and torch eager (fp32) on one batch size, each run for about
    ``seconds`` after a warm-up."""
    import onnxruntime

    model = Deployable(trained.network, trained.mean, trained.std).eval()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.onnx"
        write_onnx(model, trained, path)
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    images = torch.rand(batch, 3, *SIZE)
    feeds = {session.get_inputs()[0].name: images.numpy()}

    def rate(step) -> float:
        for _ in range(3):
            step()
        count, started = 0, time.perf_counter()
        while time.perf_counter() - started < seconds:
            step()
            count += 1
        return count * batch / (time.perf_counter() - started)

    with torch.no_grad():
        return {
            "onnxruntime": rate(lambda: session.run(None, feeds)),
            "eager": rate(lambda: model(images)),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=5000)
    parser.add_argument("--side", type=int, default=64, help="side of the JPEGs written")
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--seconds", type=float, default=3.0, help="timed seconds per runtime and batch size"
    )
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    trained = trained_model()
    workers = workers_for(-(-args.images // args.batch_size))
    results: dict[str, object] = {
        "model": MODEL,
        "images": args.images,
        "side": args.side,
        "batch_size": args.batch_size,
        "workers": workers,
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
    }
    with tempfile.TemporaryDirectory() as folder:
        write_images(Path(folder), args.images, args.side)
        zoo_rates, hand_rates = [], []
        for _ in range(args.repeats):  # alternated, so that both see the same machine load
            zoo_rates.append(zoo_rate(trained, Path(folder), args.batch_size))
            hand_rates.append(
                hand_written_rate(trained.network, Path(folder), args.batch_size, workers)
            )
    zoo_median, hand_median = statistics.median(zoo_rates), statistics.median(hand_rates)
    results |= {
        "zoo_predict": zoo_rates,
        "hand_written": hand_rates,
        "ratio": zoo_median / hand_median,
    }
    print(
        f"{MODEL}, {args.images} JPEGs of {args.side}x{args.side}, batch {args.batch_size}, "
        f"{workers} workers, {torch.get_num_threads()} threads"
    )
    print(f"  zoo predict   {zoo_median:8.0f} img/s  {[round(r) for r in zoo_rates]}")
    print(f"  hand-written  {hand_median:8.0f} img/s  {[round(r) for r in hand_rates]}")
    print(f"  ratio         {zoo_median / hand_median:8.2f}x  (goal >= 1.0)")
    runtimes = {batch: runtime_rates(trained, batch, args.seconds) for batch in (1, 64)}
    results["runtimes"] = runtimes
    for batch, rates in runtimes.items():
        print(
            f"  batch {batch:>2}: onnxruntime {rates['onnxruntime']:7.0f} img/s, torch eager "
            f"{rates['eager']:7.0f} img/s, {rates['onnxruntime'] / rates['eager']:.2f}x"
        )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    sys.exit(main())
