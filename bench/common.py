"""Shared by the benchmarks: synthetic CIFAR-format data and the hand-written PyTorch loop.

The hand-written loop is what a careful PyTorch user writes from the tutorials: torchvision
transforms on PIL images (RandomCrop with padding 4, flip, ToTensor, Normalize), a DataLoader
with worker processes, the model in fp32, and SGD. It reads the very files zoo reads.
"""

from __future__ import annotations

import pickle
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torchvision
from torch import nn
from torchvision import transforms

CIFAR_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR_STD = (0.2470, 0.2435, 0.2616)
TRAIN_BATCHES = 5


def write_cifar10(root: Path, train_images: int, test_images: int, seed: int = 0) -> Path:
    """Random images in CIFAR-10's python format (5 training batches, a test batch, meta)."""
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    per_batch = train_images // TRAIN_BATCHES
    for index in range(TRAIN_BATCHES + 1):
        count = per_batch if index < TRAIN_BATCHES else test_images
        batch = {  # as a Python 3 user re-pickles CIFAR: str keys, which both readers take
            "data": rng.integers(0, 256, (count, 3072), dtype=np.uint8),
            "labels": rng.integers(0, 10, count).tolist(),
        }
        name = f"data_batch_{index + 1}" if index < TRAIN_BATCHES else "test_batch"
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
    meta = {"label_names": [f"class{i}" for i in range(10)]}
    (folder / "batches.meta").write_bytes(pickle.dumps(meta, protocol=2))
    return root


class UncheckedCIFAR10(torchvision.datasets.CIFAR10):
    """torchvision's CIFAR10 over our synthetic files (their md5 sums are not the real ones)."""

    def _check_integrity(self) -> bool:
        return True

    def _load_meta(self) -> None:
        self.classes = [f"class{i}" for i in range(10)]
        self.class_to_idx = {name: i for i, name in enumerate(self.classes)}


def hand_written_epoch_timer(
    model: nn.Module, root: Path, batch_size: int, workers: int, device: torch.device
) -> Callable[[], float]:
    """A function that trains one epoch the hand-written way and returns images/s."""
    augment = transforms.Compose(
        [
            transforms.RandomCrop(32, padding=4),
            transforms.RandomHorizontalFlip(),
            transforms.ToTensor(),
            transforms.Normalize(CIFAR_MEAN, CIFAR_STD),
        ]
    )
    data = UncheckedCIFAR10(str(root), train=True, transform=augment, download=False)
    loader = torch.utils.data.DataLoader(
        data,
        batch_size=batch_size,
        shuffle=True,
        num_workers=workers,
        pin_memory=device.type == "cuda",
        persistent_workers=workers > 0,
    )
    model = model.to(device)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-4)
    criterion = nn.CrossEntropyLoss()

    def epoch() -> float:
        model.train()
        started = time.perf_counter()
        for images, labels in loader:
            images, labels = images.to(device), labels.to(device)
            loss = criterion(model(images), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            loss.item()  # what the tutorials do to log the loss
        if device.type == "cuda":
            torch.cuda.synchronize()
        return len(data) / (time.perf_counter() - started)

    return epoch


def median_after_warmup(rates: list[float], warmup: int = 1) -> float:
    """The median of the rates after the first ``warmup`` ones."""
    measured = rates[warmup:] or rates
    return statistics.median(measured)
