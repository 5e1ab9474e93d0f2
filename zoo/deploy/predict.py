"""``zoo predict``: the top classes of image files, under a trained model's own preprocessing.

Images of any size and mode are decoded as training decoded its validation images
(:func:`zoo.data.files.decode`): converted to the network's channels (RGB or grayscale), resized
so that the shorter side covers the training image size divided by the checkpoint's crop ratio,
and centre-cropped to it. JPEGs are decoded at a reduced scale that still covers the size (PIL's
``draft``), which is most of the decoding saved for large photos.

A ``torch.utils.data.DataLoader`` decodes in worker processes while the network runs, and
hands over uint8 batches (a quarter of float32's bytes); normalisation runs on the device, and
inference runs under the trainer's fast defaults (bf16 autocast and channels_last where the
device computes them natively: :mod:`zoo.train.runtime.device`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from zoo.data import Normalizer
from zoo.data.files import BadImage, decode
from zoo.data.imagefolder import walk_files
from zoo.deploy.trained import TrainedModel
from zoo.errors import ZooError

DEFAULT_BATCH_SIZE = 256
"""Images per batch: large enough to keep a GPU busy, small for any CPU's memory (at 32×32)."""

MAX_WORKERS = 8
"""Decoding processes at most; fewer on a machine with fewer cores."""

PROBABILITY_DIGITS = 6
"""Probabilities in the output are rounded to this many decimals."""


@dataclass(frozen=True)
class Prediction:
    """The top classes of one image, most probable first."""

    image: str
    top: list[tuple[str, float]]

    def to_json(self) -> dict[str, Any]:
        return {
            "image": self.image,
            "top": [{"class": name, "probability": p} for name, p in self.top],
        }


def find_images(paths: Sequence[str | Path]) -> tuple[list[str], int]:
    """Image files of ``paths`` in a stable order (each folder read recursively, symlinks
    followed as training follows them, sorted), as the paths were given, and how many files were
    skipped for not being images."""
    from torchvision.datasets.folder import IMG_EXTENSIONS  # torchvision: imported on use

    images: list[str] = []
    not_images = 0
    for given in paths:
        path = Path(given)
        if path.is_dir():
            found = sorted(walk_files(path, set()))
        elif path.is_file():
            found = [path]
        else:
            raise ZooError(f"{given}: no such file or folder")
        for file in found:
            if file.suffix.lower() in IMG_EXTENSIONS:
                images.append(str(given) if file == path else str(file))
            else:
                not_images += 1
    return list(dict.fromkeys(images)), not_images


class ImageFiles(Dataset):
    """Image files as uint8 ``(C, H, W)`` tensors at one size, each with whether it decoded;
    decoded as training decoded its images (:func:`zoo.data.files.decode`)."""

    def __init__(
        self, files: Sequence[str], size: tuple[int, int], channels: int, crop_ratio: float
    ) -> None:
        self.files = list(files)
        self.size, self.channels, self.crop_ratio = size, channels, crop_ratio
        self.mode = "L" if channels == 1 else "RGB"

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> tuple[Tensor, str]:
        """The image, and "" or why it could not be decoded."""
        path = self.files[index]
        try:
            return decode(path, self.size, self.crop_ratio, self.mode), ""
        except BadImage as exc:
            reason = str(exc).removeprefix(f"{path}: ") or "unreadable"
            return torch.zeros(self.channels, *self.size, dtype=torch.uint8), reason


def workers_for(batches: int) -> int:
    """Decoding processes: none for a single batch (nothing to overlap), else one per core up
    to :data:`MAX_WORKERS`."""
    if batches < 2:
        return 0
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return min(MAX_WORKERS, cores or 1, batches)


@torch.inference_mode()
def predict(
    trained: TrainedModel,
    files: Sequence[str],
    *,
    top_k: int = 5,
    batch_size: int = DEFAULT_BATCH_SIZE,
    device: str = "auto",
    workers: int | None = None,
) -> tuple[list[Prediction], list[str]]:
    """The ``top_k`` classes of each file, and the files that could not be decoded, each with
    the reason (``"x.png (cannot identify image file)"``)."""
    from zoo.recipe.training import TrainConfig
    from zoo.train.runtime.device import place

    if top_k < 1 or batch_size < 1:
        raise ZooError("--top-k and --batch-size must be at least 1")
    if not files:
        return [], []
    try:
        placement = place(TrainConfig(device=device))
    except ZooError as exc:
        raise ZooError(str(exc).replace("train.device", "--device")) from exc
    network = trained.network.to(placement.device, memory_format=placement.memory_format).eval()
    normalizer = Normalizer(trained.mean, trained.std).to(placement.device)
    batches = math.ceil(len(files) / batch_size)
    loader = DataLoader(
        ImageFiles(files, trained.image_size, trained.channels, trained.crop_ratio),
        batch_size=batch_size,
        num_workers=workers_for(batches) if workers is None else workers,
        pin_memory=placement.device.type == "cuda",
    )
    k = min(top_k, len(trained.classes))
    values, indices, reasons = [], [], []
    for images, why_not in loader:
        images = images.to(placement.device, non_blocking=True)
        batch = normalizer(images).contiguous(memory_format=placement.memory_format)
        with placement.autocast():
            logits = network(batch)
        top = logits.float().softmax(1).topk(k)
        values.append(top.values)  # kept on the device: one transfer at the end, no sync per batch
        indices.append(top.indices)
        reasons += why_not
    top_values = torch.cat(values)
    broken = int((~torch.isfinite(top_values).all(1)).sum())
    if broken:
        raise ZooError(
            f"{trained.source}: the network's outputs are not finite numbers for "
            f"{broken} of {len(files)} images: its weights hold NaN or overflow"
        )
    probabilities = top_values.cpu().tolist()
    classes = torch.cat(indices).cpu().tolist()
    rows = [
        Prediction(
            file,
            [
                (trained.classes[c], round(p, PROBABILITY_DIGITS))
                for c, p in zip(cs, ps, strict=True)
            ],
        )
        for file, cs, ps, reason in zip(files, classes, probabilities, reasons, strict=True)
        if not reason
    ]
    unreadable = [
        f"{file} ({reason})" for file, reason in zip(files, reasons, strict=True) if reason
    ]
    return rows, unreadable
