"""Any folder of images in torchvision's ImageFolder layout, at any size and in any amount.

Layout under ``[data] root``::

    train/<class>/*.jpg|*.png|...
    val/<class>/...

Classes are found by torchvision's own ``find_classes``; image files (endings as in
``IMG_EXTENSIONS``: png, jpg, jpeg, bmp, ppm, pgm, tif, tiff, webp; other files, such as
``.DS_Store`` or ``notes.txt``, are ignored) by a walk that follows symlinks but visits each real
directory once, so a link loop (``a/up -> ..``) neither hangs nor loads the same images again.
Classes are the folder names under ``train/``, sorted; ``val/`` must have the same class folders,
or be absent when ``val_split`` holds out part of the training set instead.

Images may have any size, aspect and mode: each is decoded to RGB at ``data.image_size``
(:mod:`zoo.data.files`); without it, the folder's images must share one size, which is then used
as it is. The decoded folder is held in memory when it fits a budget (``data.in_memory``), and
otherwise read from disk each epoch by the loader's worker processes.
"""

from __future__ import annotations

import os
import warnings
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import torch
from PIL import Image
from torch import Tensor
from torch.utils.data import DataLoader

from zoo.data.config import DataConfig
from zoo.data.files import ImageFiles, Size, check_bad
from zoo.data.registry import datasets
from zoo.data.splits import DataSplits
from zoo.errors import ZooError

try:
    import resource
except ImportError:  # Windows: no ulimits to honour
    resource = None  # type: ignore[assignment]

LAYOUT = "root/train/<class>/*.png and root/val/<class>/*.png"
"""The expected layout, quoted in error messages."""

MEMORY_FRACTION = 0.5
"""``in_memory = "auto"`` holds a folder whose decoded images take at most this share of the
memory available now (``/proc/meminfo``'s MemAvailable, or what ``ulimit -v``/``-d`` leaves)."""

DECODE_BATCH = 64
"""Images decoded per worker task when a folder is loaded into memory."""

Samples = list[tuple[str, int]]


def _classes(folder: Path) -> list[str]:
    """Sorted class folder names of ``folder``; a missing or empty folder is a ZooError."""
    from torchvision.datasets.folder import find_classes  # torchvision: imported on use

    if not folder.is_dir():
        raise ZooError(f"imagefolder: no folder {folder}; expected {LAYOUT}")
    try:
        classes, _ = find_classes(folder)
    except FileNotFoundError:
        raise ZooError(f"imagefolder: {folder} has no class folders; expected {LAYOUT}") from None
    return classes


def walk_files(folder: Path, seen: set[tuple[int, int]]) -> Iterator[Path]:
    """Every file under ``folder``, each directory's in sorted order, symlinks followed. A
    directory whose (device, inode) is in ``seen`` is skipped, and each visited one is added: a
    symlink loop ends, and nothing is read twice. A directory that cannot be read is a warning
    naming it and why; the walk goes on."""

    def unreadable(error: OSError) -> None:
        warnings.warn(
            f"{error.filename}: cannot read the folder ({error.strerror}); its images are skipped",
            stacklevel=4,
        )

    for root, dirs, files in os.walk(folder, followlinks=True, onerror=unreadable):
        key = _identity(Path(root))
        if key in seen:
            dirs.clear()  # a directory reached again through a link: not again, not below
            continue
        seen.add(key)
        dirs.sort()
        yield from (Path(root, name) for name in sorted(files))


def image_files(folder: Path, seen: set[tuple[int, int]]) -> list[Path]:
    """The image files under ``folder`` (:func:`walk_files`), by their endings."""
    from torchvision.datasets.folder import IMG_EXTENSIONS, has_file_allowed_extension

    return [
        path
        for path in walk_files(folder, seen)
        if has_file_allowed_extension(path.name, IMG_EXTENSIONS)
    ]


def _identity(path: Path) -> tuple[int, int]:
    info = path.stat()
    return info.st_dev, info.st_ino


def find_samples(folder: Path, classes: list[str]) -> Samples:
    """(path, label) of every image under ``folder/<class>/``; a class without images is a
    ZooError naming it."""
    from torchvision.datasets.folder import IMG_EXTENSIONS

    samples: Samples = []
    # the split folder and every class folder are walked from their own place only: a link
    # to one of them from inside a class (``up -> ..``) is not followed
    seen = {_identity(folder), *(_identity(folder / name) for name in classes)}
    for label, name in enumerate(classes):
        seen.discard(_identity(folder / name))
        files = image_files(folder / name, seen)
        if not files:
            raise ZooError(
                f"imagefolder: {folder / name} has no images (endings: {', '.join(IMG_EXTENSIONS)})"
            )
        samples += [(str(path), label) for path in files]
    return samples


def common_size(samples: Samples, skip_bad: bool) -> Size:
    """The one (height, width) the images share, read from their headers; differing sizes are
    a ZooError that asks for ``data.image_size``."""
    sizes: Counter[Size] = Counter()
    example: dict[Size, str] = {}
    for path, _ in samples:
        try:
            with Image.open(path) as image:
                size = (image.height, image.width)
        except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as exc:
            if skip_bad:
                continue
            raise ZooError(
                f"imagefolder: cannot read the image {path}: {exc}; set data.skip_bad_images = "
                "true to skip such files"
            ) from None
        sizes[size] += 1
        example.setdefault(size, path)
    if len(sizes) > 1:
        (first, _), (second, _) = sizes.most_common(2)
        raise ZooError(
            f"imagefolder: the images differ in size ({example[first]} is {first[0]}×{first[1]}, "
            f"{example[second]} is {second[0]}×{second[1]}); set data.image_size, e.g. "
            f"data.image_size = {min(first)}"
        )
    if not sizes:
        raise ZooError("imagefolder: none of the images could be read")
    return next(iter(sizes))


def available_memory() -> int:
    """Bytes this process may still allocate: the machine's available memory, or less where
    the process is limited — by ``ulimit -v`` (``RLIMIT_AS``, less the address space it
    already maps) or ``ulimit -d`` (``RLIMIT_DATA``, less the private memory it already has).
    Without the limits, a run started under one would hold a folder it cannot allocate."""
    available = [_meminfo_kib("/proc/meminfo").get("MemAvailable", 0) * 1024]
    if not available[0]:
        available = [os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")]
    if resource is None:
        return available[0]
    status = _meminfo_kib("/proc/self/status")
    for limit, used in ((resource.RLIMIT_AS, "VmSize"), (resource.RLIMIT_DATA, "VmData")):
        soft, _ = resource.getrlimit(limit)
        if soft != resource.RLIM_INFINITY:
            available.append(max(0, soft - status.get(used, 0) * 1024))
    return min(available)


def _meminfo_kib(path: str) -> dict[str, int]:
    """The ``Key: value kB`` lines of a /proc file such as /proc/meminfo (empty if unreadable)."""
    try:
        lines = Path(path).read_text().splitlines()
    except OSError:
        return {}
    fields = (line.split() for line in lines)
    return {f[0].rstrip(":"): int(f[1]) for f in fields if len(f) == 3 and f[2] == "kB"}


def hold(files: ImageFiles, config: DataConfig) -> tuple[Tensor, Tensor, int]:
    """Decode every image of ``files`` into memory with worker processes: uint8 images,
    labels, and how many bad files were skipped. The images are written into one tensor
    allocated up front, so the folder takes its size once, not twice while it is assembled."""
    loader = DataLoader(files, batch_size=DECODE_BATCH, num_workers=config.worker_count())
    images = torch.empty((len(files), 3, *files.size), dtype=torch.uint8)
    labels = torch.empty(len(files), dtype=torch.int64)
    keep = torch.ones(len(files), dtype=torch.bool)
    for batch, batch_labels, indices in loader:
        good = check_bad(files.samples, batch_labels, indices, config.skip_bad_images)
        images[indices], labels[indices], keep[indices] = batch, batch_labels, good
    skipped = int((~keep).sum())
    if skipped == len(files):
        raise ZooError(f"imagefolder: none of the {len(files)} images could be read")
    if skipped:  # the rare case: one copy without the bad files
        images, labels = images[keep], labels[keep]
    return images, labels, skipped


@datasets.register("imagefolder")
def imagefolder(config: DataConfig) -> DataSplits:
    """Images from ``config.root/train`` and ``config.root/val``, one folder per class."""
    root = config.root
    classes = _classes(root / "train")
    if len(classes) < 2:
        raise ZooError(
            f"imagefolder: {root / 'train'} has one class folder ({classes[0]}); a classifier "
            "needs at least two"
        )
    train = find_samples(root / "train", classes)
    val: Samples = []
    if not (config.val_split > 0 and not (root / "val").exists()):
        val_classes = _classes(root / "val")
        if val_classes != classes:
            only_train = ", ".join(sorted(set(classes) - set(val_classes))) or "none"
            only_val = ", ".join(sorted(set(val_classes) - set(classes))) or "none"
            raise ZooError(
                f"imagefolder: {root / 'val'} must have the same class folders as "
                f"{root / 'train'}; only in train: {only_train}; only in val: {only_val}"
            )
        val = find_samples(root / "val", classes)
    size = config.output_size()
    crop_ratio = config.crop_ratio
    if size is None:  # the images' own size, kept as it is
        size, crop_ratio = common_size(train + val, config.skip_bad_images), 1.0
    train_files, val_files = ImageFiles(train, size, crop_ratio), ImageFiles(val, size, crop_ratio)
    needed = (len(train) + len(val)) * 3 * size[0] * size[1]
    budget = int(MEMORY_FRACTION * available_memory())
    if config.in_memory is True and needed > budget:
        raise ZooError(
            f"imagefolder: data.in_memory = true, but the {len(train) + len(val):,} images take "
            f"{needed / 2**30:.1f} GiB at {size[0]}×{size[1]}, more than the "
            f"{budget / 2**30:.1f} GiB zoo may hold (half the available memory); set "
            'data.in_memory = "auto" or false to read them from disk'
        )
    if config.in_memory is False or (config.in_memory == "auto" and needed > budget):
        return DataSplits(
            train_files, train_files.labels, val_files, val_files.labels, classes, "imagefolder",
            crop_ratio=crop_ratio,
        )  # fmt: skip
    train_images, train_labels, skipped = hold(train_files, config)
    if val:
        val_images, val_labels, skipped_val = hold(val_files, config)
        skipped += skipped_val
    else:
        val_images, val_labels = train_images[:0], train_labels[:0]  # load_data holds out
    return DataSplits(
        train_images, train_labels, val_images, val_labels, classes, "imagefolder",
        skipped=skipped, crop_ratio=crop_ratio,
    )  # fmt: skip
