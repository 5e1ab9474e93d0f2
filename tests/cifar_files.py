"""Writers for tiny data sets in CIFAR's real on-disk forms and as an image folder.

The python batches are written the way Krizhevsky's were: by Python 2's cPickle at protocol 2,
so keys and the pixel buffer are Python 2 ``str`` (the SHORT_BINSTRING/BINSTRING opcodes) and the
array is rebuilt through ``numpy.core.multiarray._reconstruct``.
"""

from __future__ import annotations

import pickle
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torchvision.transforms.v2.functional import to_pil_image

PER_BATCH = 4
"""Images per tiny CIFAR batch (five training batches and one test batch)."""


class Py2Pickler(pickle._Pickler):  # the pure-Python pickler lets us choose opcodes per type
    """Writes ``bytes`` as Python 2 ``str`` (what cPickle wrote for CIFAR), not via _codecs."""

    dispatch = pickle._Pickler.dispatch.copy()

    def save_py2_str(self, obj: bytes) -> None:
        if len(obj) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(obj)]) + obj)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(obj)) + obj)
        self.memoize(obj)

    dispatch[bytes] = save_py2_str


def py2_pickle(obj: Any, path: Path) -> None:
    """Pickle ``obj`` to ``path`` as Python 2's cPickle would have, numpy 1 names included."""
    import io

    buffer = io.BytesIO()
    Py2Pickler(buffer, protocol=2).dump(obj)
    data = buffer.getvalue().replace(
        b"cnumpy._core.multiarray\n_reconstruct\n", b"cnumpy.core.multiarray\n_reconstruct\n"
    )
    path.write_bytes(data)


@dataclass
class TinyCifar:
    """The tensors a tiny data set is written from."""

    train_images: torch.Tensor
    train_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor
    classes: list[str]


def make_tiny(num_classes: int, train: int, test: int, seed: int = 0) -> TinyCifar:
    """Random images with labels spread evenly over the classes (each split shuffled)."""
    generator = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (train + test, 3, 32, 32), generator=generator).to(torch.uint8)
    train_labels = (torch.arange(train) % num_classes)[torch.randperm(train, generator=generator)]
    test_labels = (torch.arange(test) % num_classes)[torch.randperm(test, generator=generator)]
    classes = [f"class{i}" for i in range(num_classes)]
    return TinyCifar(images[:train], train_labels, images[train:], test_labels, classes)


def rows(images: torch.Tensor) -> np.ndarray:
    """CIFAR's layout: one (3072,) uint8 row per image, red then green then blue planes."""
    return images.reshape(images.shape[0], -1).numpy().copy()


def write_cifar10_python(tiny: TinyCifar, root: Path, writer: Any = py2_pickle) -> Path:
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    for i in range(5):
        part = slice(i * PER_BATCH, (i + 1) * PER_BATCH)
        batch = {
            b"batch_label": f"training batch {i + 1} of 5".encode(),
            b"labels": tiny.train_labels[part].tolist(),
            b"data": rows(tiny.train_images[part]),
            b"filenames": [f"img_{j}.png".encode() for j in range(PER_BATCH)],
        }
        writer(batch, folder / f"data_batch_{i + 1}")
    test = {
        b"batch_label": b"testing batch 1 of 1",
        b"labels": tiny.test_labels.tolist(),
        b"data": rows(tiny.test_images),
        b"filenames": [b"t.png"] * len(tiny.test_labels),
    }
    writer(test, folder / "test_batch")
    meta = {
        b"label_names": [name.encode() for name in tiny.classes],
        b"num_cases_per_batch": PER_BATCH,
        b"num_vis": 3072,
    }
    writer(meta, folder / "batches.meta")
    return folder


def binary_records(images: torch.Tensor, *label_columns: torch.Tensor) -> bytes:
    labels = torch.stack(label_columns, dim=1).to(torch.uint8)
    return torch.cat([labels, images.reshape(images.shape[0], -1)], dim=1).numpy().tobytes()


def write_cifar10_binary(tiny: TinyCifar, root: Path) -> Path:
    folder = root / "cifar-10-batches-bin"
    folder.mkdir(parents=True)
    for i in range(5):
        part = slice(i * PER_BATCH, (i + 1) * PER_BATCH)
        records = binary_records(tiny.train_images[part], tiny.train_labels[part])
        (folder / f"data_batch_{i + 1}.bin").write_bytes(records)
    (folder / "test_batch.bin").write_bytes(binary_records(tiny.test_images, tiny.test_labels))
    (folder / "batches.meta.txt").write_text("\n".join(tiny.classes) + "\n\n")
    return folder


def write_cifar100_python(tiny: TinyCifar, root: Path) -> Path:
    folder = root / "cifar-100-python"
    folder.mkdir(parents=True)
    for name, images, labels in [
        ("train", tiny.train_images, tiny.train_labels),
        ("test", tiny.test_images, tiny.test_labels),
    ]:
        batch = {
            b"filenames": [b"x.png"] * len(labels),
            b"batch_label": name.encode(),
            b"fine_labels": labels.tolist(),
            b"coarse_labels": (labels // 5).tolist(),
            b"data": rows(images),
        }
        py2_pickle(batch, folder / name)
    meta = {
        b"fine_label_names": [n.encode() for n in tiny.classes],
        b"coarse_label_names": [f"super{i}".encode() for i in range(20)],
    }
    py2_pickle(meta, folder / "meta")
    return folder


def write_cifar100_binary(tiny: TinyCifar, root: Path) -> Path:
    folder = root / "cifar-100-binary"
    folder.mkdir(parents=True)
    for name, images, labels in [
        ("train.bin", tiny.train_images, tiny.train_labels),
        ("test.bin", tiny.test_images, tiny.test_labels),
    ]:
        (folder / name).write_bytes(binary_records(images, labels // 5, labels))
    (folder / "fine_label_names.txt").write_text("\n".join(tiny.classes) + "\n")
    return folder


def write_image_folder(tiny: TinyCifar, root: Path) -> Path:
    """``root/train/<class>/*.png`` and ``root/val/<class>/*.png`` from the tiny tensors."""
    for split, images, labels in [
        ("train", tiny.train_images, tiny.train_labels),
        ("val", tiny.test_images, tiny.test_labels),
    ]:
        for name in tiny.classes:
            (root / split / name).mkdir(parents=True)
        for i, (image, label) in enumerate(zip(images, labels, strict=True)):
            to_pil_image(image).save(root / split / tiny.classes[label] / f"{i:04d}.png")
    return root
