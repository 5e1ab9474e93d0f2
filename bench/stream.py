"""Streaming an image folder: zoo's loader against torchvision's ImageFolder + DataLoader, and the
peak memory of a streamed epoch against a held one.

    python bench/stream.py                       # 2,000 JPEGs of mixed sizes, image_size 128
    python bench/stream.py --images 500 --size 64 --json out.json

(a) zoo: ``imagefolder`` with ``in_memory = false`` — worker processes decode each file with PIL
    (JPEG draft mode), resize and centre-crop to uint8, and the batch is normalised on the device.
(b) the hand-written way: ``torchvision.datasets.ImageFolder`` with ``Resize``, ``CenterCrop``,
    ``ToTensor`` and ``Normalize`` in the workers, the usual ``DataLoader``.
Both read the same files with the same workers and batch size, for one epoch after a warm-up
epoch; the figure is images/s. Peak memory is each way's maximum resident set size, measured in
a fresh process: one epoch streamed, and one epoch with the folder held in memory.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

REPOSITORY = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPOSITORY))

CLASSES = 4


def make_photos(
    root: Path,
    count: int,
    seed: int = 0,
    sides: tuple[int, int] = (150, 450),
    val: int | None = None,
    quality: int = 90,
) -> Path:
    """``count`` JPEGs of ``sides`` pixels a side (smooth colour noise, which compresses like
    a photo) in four class folders under ``root/train``; ``val`` more under ``root/val``, or,
    when None, ``root/val`` is a link to ``root/train``."""
    rng = np.random.default_rng(seed)
    splits = [("train", count)] + ([("val", val)] if val is not None else [])
    for split, total in splits:
        for index in range(total):
            folder = root / split / f"class{index % CLASSES}"
            folder.mkdir(parents=True, exist_ok=True)
            height, width = (int(side) for side in rng.integers(*sides, 2))
            pixels = rng.integers(0, 256, (height // 8, width // 8, 3), dtype=np.uint8)
            image = Image.fromarray(pixels).resize((width, height), Image.Resampling.BILINEAR)
            image.save(folder / f"{index:05d}.jpg", quality=quality)
    if val is None:
        (root / "val").symlink_to(root / "train")
    return root


def zoo_epoch(root: Path, size: int, batch: int, workers: int, in_memory: bool) -> float:
    """images/s of one epoch of zoo's loader, after a warm-up epoch."""
    import torch

    from zoo.data import DataConfig, DeviceLoader, Normalizer, load_data

    config = DataConfig(
        dataset="imagefolder", root=root, image_size=size, in_memory=in_memory, workers=workers
    )
    splits = load_data(config)
    loader = DeviceLoader(
        splits.train_images,
        splits.train_labels,
        batch_size=batch,
        normalizer=Normalizer.fit(splits.train_images, "imagenet"),
        workers=workers,
    )
    rate = 0.0
    for _ in range(2):  # warm-up, then the measured epoch
        started, seen = time.perf_counter(), 0
        for images, _labels in loader:
            seen += images.shape[0]
            torch.cuda.synchronize() if images.is_cuda else None
        rate = seen / (time.perf_counter() - started)
    return rate


def torchvision_epoch(root: Path, size: int, batch: int, workers: int) -> float:
    """images/s of one epoch of the hand-written ImageFolder + DataLoader, after a warm-up."""
    import torch
    from torchvision import datasets, transforms

    from zoo.data.files import CROP_RATIO

    transform = transforms.Compose(
        [
            transforms.Resize(int(size / CROP_RATIO)),
            transforms.CenterCrop(size),
            transforms.ToTensor(),
            transforms.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225)),
        ]
    )
    dataset = datasets.ImageFolder(str(root / "train"), transform=transform)
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch, num_workers=workers)
    rate = 0.0
    for _ in range(2):
        started, seen = time.perf_counter(), 0
        for images, _labels in loader:
            seen += images.shape[0]
        rate = seen / (time.perf_counter() - started)
    return rate


def peak_memory(root: Path, size: int, batch: int, workers: int, in_memory: bool) -> float:
    """Peak resident MiB of a fresh process that loads the folder and runs one epoch: its own
    peak, and its largest worker process's."""
    code = (
        f"import sys, resource; sys.path.insert(0, {str(REPOSITORY)!r}); sys.path.insert(0, "
        f"{str(Path(__file__).parent)!r}); import stream; "
        f"stream.zoo_epoch(stream.Path({str(root)!r}), {size}, {batch}, {workers}, {in_memory}); "
        "print(max(resource.getrusage(who).ru_maxrss for who in "
        "(resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)))"
    )
    done = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return int(done.stdout.split()[-1]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = make_photos(Path(folder), args.images)
        common = (root, args.size, args.batch_size, args.workers)
        figures = {
            "images": args.images,
            "image_size": args.size,
            "workers": args.workers,
            "zoo_streaming_images_per_s": round(zoo_epoch(*common, in_memory=False), 1),
            "torchvision_images_per_s": round(torchvision_epoch(*common), 1),
        }
        figures["ratio"] = round(
            figures["zoo_streaming_images_per_s"] / figures["torchvision_images_per_s"], 2
        )
        figures["peak_mib_streamed"] = round(peak_memory(*common, in_memory=False))
        figures["peak_mib_held"] = round(peak_memory(*common, in_memory=True))
    print(json.dumps(figures, indent=1))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
