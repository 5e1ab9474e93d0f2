"""CIFAR-10 and CIFAR-100 from their official on-disk forms (Krizhevsky 2009).

The seed calls ``keras.datasets.cifar10.load_data()``: 50,000 training and 10,000 test images,
validated on the test split. Here the same data is read from under ``[data] root`` in either
official form, whichever is present:

- the python version, ``cifar-10-batches-py/data_batch_1..5``, ``test_batch``, ``batches.meta``
  (``cifar-100-python/train``, ``test``, ``meta``): Python 2 pickles, read with
  :mod:`zoo.data.safe_pickle` so that a file cannot run code;
- the binary version, ``cifar-10-batches-bin/data_batch_1..5.bin``, ``test_batch.bin``,
  ``batches.meta.txt`` (``cifar-100-binary/train.bin``, ``test.bin``, ``fine_label_names.txt``):
  fixed-size records of label byte(s) followed by 3072 pixel bytes.

In both, an image is 1024 red, then 1024 green, then 1024 blue bytes, each row-major 32x32, so a
batch reshapes straight to ``(N, 3, 32, 32)``. When neither is present and ``download`` is set, the
python version is fetched with torchvision's downloader (URL and md5 from torchvision's own
``CIFAR10``/``CIFAR100`` classes).
"""

from __future__ import annotations

import contextlib
import tarfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from zoo.data.config import DataConfig
from zoo.data.registry import datasets
from zoo.data.safe_pickle import load_pickle
from zoo.data.splits import DataSplits
from zoo.errors import ZooError

IMAGE_SHAPE = (3, 32, 32)
"""Channels, height, width of a CIFAR image."""

PIXELS = 3 * 32 * 32
"""Bytes of one image: 1024 red, 1024 green, 1024 blue."""


@dataclass(frozen=True)
class CifarFiles:
    """Where one CIFAR variant keeps its files, in both official forms, and where to get it."""

    name: str
    torchvision_class: str
    """torchvision's dataset class, whose ``url``, ``filename`` and ``tgz_md5`` are used."""
    python_dir: str
    python_train: tuple[str, ...]
    python_test: str
    python_meta: str
    label_key: bytes
    names_key: bytes
    binary_dir: str
    binary_train: tuple[str, ...]
    binary_test: str
    binary_names: str
    label_bytes: int
    """Label bytes per binary record; CIFAR-100 stores coarse then fine, and we use the last."""

    def _torchvision(self, attribute: str) -> str:
        import torchvision.datasets  # seconds: imported on use, not by every `zoo` command

        return getattr(getattr(torchvision.datasets, self.torchvision_class), attribute)

    @property
    def url(self) -> str:
        return self._torchvision("url")

    @property
    def archive(self) -> str:
        return self._torchvision("filename")

    @property
    def md5(self) -> str:
        return self._torchvision("tgz_md5")


def download_and_extract_archive(url: str, download_root: Path, filename: str, md5: str) -> None:
    """torchvision's downloader: fetches ``url`` with a progress bar, checks the md5, unpacks."""
    from torchvision.datasets import utils

    utils.download_and_extract_archive(url, download_root=download_root, filename=filename, md5=md5)


CIFAR10_FILES = CifarFiles(
    name="cifar10",
    torchvision_class="CIFAR10",
    python_dir="cifar-10-batches-py",
    python_train=tuple(f"data_batch_{i}" for i in range(1, 6)),
    python_test="test_batch",
    python_meta="batches.meta",
    label_key=b"labels",
    names_key=b"label_names",
    binary_dir="cifar-10-batches-bin",
    binary_train=tuple(f"data_batch_{i}.bin" for i in range(1, 6)),
    binary_test="test_batch.bin",
    binary_names="batches.meta.txt",
    label_bytes=1,
)

CIFAR100_FILES = CifarFiles(
    name="cifar100",
    torchvision_class="CIFAR100",
    python_dir="cifar-100-python",
    python_train=("train",),
    python_test="test",
    python_meta="meta",
    label_key=b"fine_labels",
    names_key=b"fine_label_names",
    binary_dir="cifar-100-binary",
    binary_train=("train.bin",),
    binary_test="test.bin",
    binary_names="fine_label_names.txt",
    label_bytes=2,
)


def _existing(path: Path) -> Path:
    """``path`` if it is a file; otherwise a ZooError saying the folder is incomplete."""
    if not path.is_file():
        raise ZooError(
            f"missing {path}: the CIFAR folder {path.parent} is incomplete; delete it and "
            "download the data set again"
        )
    return path


def _check_labels(labels: Tensor, classes: list[str], path: Path) -> Tensor:
    """``labels`` if every one indexes ``classes``; otherwise the file is corrupt."""
    if labels.numel() and not 0 <= int(labels.min()) <= int(labels.max()) < len(classes):
        raise ZooError(f"{path} has labels outside 0..{len(classes) - 1}; the file is corrupt")
    return labels


def read_python_batch(path: Path, files: CifarFiles) -> tuple[Tensor, Tensor]:
    """Images ``(N, 3, 32, 32)`` uint8 and labels int64 from one pickled batch."""
    batch = _bytes_keys(load_pickle(_existing(path)))
    if not isinstance(batch, dict) or b"data" not in batch or files.label_key not in batch:
        found = sorted(batch) if isinstance(batch, dict) else type(batch).__name__
        raise ZooError(
            f"{path} is not a {files.name} batch: expected a dict with keys b'data' and "
            f"{files.label_key!r}, found {found}"
        )
    data, labels = batch[b"data"], batch[files.label_key]
    if not (isinstance(data, np.ndarray) and data.dtype == np.uint8 and data.ndim == 2):
        raise ZooError(f"{path}: b'data' is not a uint8 (N, {PIXELS}) array; the file is corrupt")
    try:
        label_tensor = torch.tensor(labels, dtype=torch.int64)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise ZooError(f"{path}: {files.label_key!r} is not a list of integers") from exc
    if data.shape[1] != PIXELS or label_tensor.shape != (data.shape[0],):
        raise ZooError(
            f"{path}: b'data' has shape {data.shape} and {files.label_key!r} has shape "
            f"{tuple(label_tensor.shape)}; expected (N, {PIXELS}) and (N,): one label per image"
        )
    images = torch.from_numpy(np.ascontiguousarray(data)).view(-1, *IMAGE_SHAPE)
    return images, label_tensor


def read_python_classes(path: Path, files: CifarFiles) -> list[str]:
    """Class names from a pickled ``batches.meta`` / ``meta`` file."""
    meta = _bytes_keys(load_pickle(_existing(path)))
    names = meta.get(files.names_key) if isinstance(meta, dict) else None
    if not isinstance(names, list) or not all(isinstance(n, bytes | str) for n in names):
        raise ZooError(f"{path} has no list of class names under {files.names_key!r}")
    return [name.decode("utf-8") if isinstance(name, bytes) else name for name in names]


def _bytes_keys(obj: object) -> object:
    """CIFAR's Python 2 pickles have bytes keys; copies re-pickled by Python 3 have str keys."""
    if not isinstance(obj, dict):
        return obj
    return {k.encode() if isinstance(k, str) else k: v for k, v in obj.items()}


def read_binary_batch(path: Path, label_bytes: int) -> tuple[Tensor, Tensor]:
    """Images and labels from a binary batch of ``label_bytes + 3072``-byte records."""
    raw = _existing(path).read_bytes()
    record = label_bytes + PIXELS
    if not raw or len(raw) % record:
        raise ZooError(
            f"{path} is truncated or corrupt: {len(raw)} bytes is not a whole number of "
            f"{record}-byte records; delete it and download the data set again"
        )
    table = torch.frombuffer(bytearray(raw), dtype=torch.uint8).view(-1, record)
    labels = table[:, label_bytes - 1].long()
    images = table[:, label_bytes:].reshape(-1, *IMAGE_SHAPE)
    return images, labels


def read_binary_classes(path: Path) -> list[str]:
    """Class names from ``batches.meta.txt``: one per line, blank lines ignored."""
    lines = _existing(path).read_text(encoding="utf-8", errors="replace").splitlines()
    return [line.strip() for line in lines if line.strip()]


def _assemble(
    files: CifarFiles,
    folder: Path,
    classes: list[str],
    train: tuple[str, ...],
    test: str,
    read: Callable[[Path], tuple[Tensor, Tensor]],
) -> DataSplits:
    """Read the ``train`` batches and the ``test`` batch of ``folder`` with ``read``."""

    def checked(name: str) -> tuple[Tensor, Tensor]:
        images, labels = read(folder / name)
        return images, _check_labels(labels, classes, folder / name)

    train_batches = [checked(name) for name in train]
    test_images, test_labels = checked(test)
    return DataSplits(
        train_images=torch.cat([images for images, _ in train_batches]),
        train_labels=torch.cat([labels for _, labels in train_batches]),
        val_images=test_images,
        val_labels=test_labels,
        classes=classes,
        name=files.name,
    )


def load_python(folder: Path, files: CifarFiles) -> DataSplits:
    """The python version of ``files`` from ``folder`` (e.g. ``data/cifar-10-batches-py``)."""
    classes = read_python_classes(folder / files.python_meta, files)
    return _assemble(
        files,
        folder,
        classes,
        files.python_train,
        files.python_test,
        lambda path: read_python_batch(path, files),
    )


def load_binary(folder: Path, files: CifarFiles) -> DataSplits:
    """The binary version of ``files`` from ``folder`` (e.g. ``data/cifar-10-batches-bin``)."""
    classes = read_binary_classes(folder / files.binary_names)
    return _assemble(
        files,
        folder,
        classes,
        files.binary_train,
        files.binary_test,
        lambda path: read_binary_batch(path, files.label_bytes),
    )


def _how_to_get(files: CifarFiles, root: Path) -> str:
    return (
        f"download {files.url} and extract it into {root} (it unpacks to {files.python_dir}/), "
        "or point data.root at the folder that holds it"
    )


def download(files: CifarFiles, root: Path) -> None:
    """Fetch and unpack the python version into ``root`` with a progress bar. A failed download
    leaves nothing behind that it created: not the folders, nor a partial archive."""
    created = [folder for folder in (root, *root.parents) if not folder.exists()]
    archive = root / files.archive
    had_archive = archive.exists()
    try:
        download_and_extract_archive(
            files.url, download_root=root, filename=files.archive, md5=files.md5
        )
    except (OSError, RuntimeError, ValueError, tarfile.TarError) as exc:
        if not had_archive:
            archive.unlink(missing_ok=True)
        for folder in created:  # deepest first; only the ones left empty
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise ZooError(
            f"{files.name} is not at {root / files.python_dir} and downloading it failed "
            f"({type(exc).__name__}: {exc}); {_how_to_get(files, root)}"
        ) from exc


def load_cifar(files: CifarFiles, config: DataConfig) -> DataSplits:
    """``files``' data set from under ``config.root``: python form, else binary, else download."""
    root = config.root
    if (root / files.python_dir).is_dir():
        return load_python(root / files.python_dir, files)
    if (root / files.binary_dir).is_dir():
        return load_binary(root / files.binary_dir, files)
    if not config.download:
        raise ZooError(
            f"{files.name} is not at {root / files.python_dir} (nor {root / files.binary_dir}) "
            f"and data.download is false; {_how_to_get(files, root)}"
        )
    download(files, root)
    if not (root / files.python_dir).is_dir():
        raise ZooError(
            f"the download did not create {root / files.python_dir}; {_how_to_get(files, root)}"
        )
    return load_python(root / files.python_dir, files)


@datasets.register("cifar10")
def cifar10(config: DataConfig) -> DataSplits:
    """CIFAR-10: 50,000 training and 10,000 test images of 10 classes, 32x32 RGB."""
    return load_cifar(CIFAR10_FILES, config)


@datasets.register("cifar100")
def cifar100(config: DataConfig) -> DataSplits:
    """CIFAR-100: 50,000 training and 10,000 test images of 100 (fine) classes, 32x32 RGB."""
    return load_cifar(CIFAR100_FILES, config)
