"""Image folders as users have them: any size, mode and format, held or streamed, bad files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import zoo.data.imagefolder as imagefolder_module
from zoo.data import DataConfig, DeviceLoader, load_data
from zoo.data.augment import Augmentation
from zoo.data.files import decode
from zoo.errors import ZooError

COLOURS = {"red": (220, 30, 30), "blue": (30, 30, 220)}
KINDS = (
    ("RGB", "png"), ("L", "png"), ("RGBA", "png"), ("P", "png"), ("I;16", "png"),
    ("CMYK", "jpg"), ("RGB", "jpg"), ("L", "bmp"), ("RGB", "webp"), ("CMYK", "tiff"),
    ("RGBA", "tiff"),
)  # fmt: skip
"""(mode, format) pairs PIL can write: every mode and format a user's folder may hold."""


def picture(colour: tuple[int, int, int], size: tuple[int, int], seed: int) -> np.ndarray:
    """A noisy colour field with a dark square, top left for red and bottom right for blue:
    the classes differ in colour and, for grey images too, in where the square is."""
    rng = np.random.default_rng(seed)
    height, width = size
    array = np.clip(np.array(colour) + rng.normal(0, 20, (height, width, 3)), 0, 255)
    top, left = (height // 8, width // 8) if colour[0] > colour[2] else (height // 2, width // 2)
    array[top : top + 3 * height // 8, left : left + 3 * width // 8] *= 0.3
    return array.astype(np.uint8)


def save(array: np.ndarray, path: Path, mode: str) -> None:
    image = Image.fromarray(array)
    if mode == "I;16":
        grey = np.asarray(image.convert("L"), dtype=np.uint16) * 257
        image = Image.fromarray(grey)  # 16-bit grey
    elif mode != "RGB":
        image = image.convert(mode)
    image.save(path)


def make_folder(root: Path, per_class: int, mixed: bool, val: int = 4, sizes: bool = True) -> Path:
    """train/ and val/ with two classes; ``mixed``: every mode and format, and (``sizes``)
    every size and aspect."""
    index = 0
    for split, count in (("train", per_class), ("val", val)):
        for name, colour in COLOURS.items():
            folder = root / split / name
            folder.mkdir(parents=True)
            for i in range(count):
                index += 1
                size = (16 + (index * 7) % 40, 16 + (index * 13) % 50)
                size = size if mixed and sizes else (16, 16)
                mode, suffix = KINDS[index % len(KINDS)] if mixed else ("RGB", "png")
                save(picture(colour, size, index), folder / f"{i}.{suffix}", mode)
    (root / "train" / "red" / ".DS_Store").write_bytes(b"\0\1junk")
    (root / "train" / "blue" / "notes.txt").write_text("not an image")
    return root


def test_a_mixed_folder_loads_at_image_size_with_stray_files_ignored(tmp_path):
    root = make_folder(tmp_path / "mixed", per_class=12, mixed=True)
    splits = load_data(DataConfig(dataset="imagefolder", root=root, image_size=[16, 20]))
    assert splits.train_images.shape == (24, 3, 16, 20) and splits.classes == ["blue", "red"]
    reds = splits.train_images[splits.train_labels == 1].float().mean((0, 2, 3))
    assert reds[0] > reds[2] + 50  # every mode and format came out as RGB, red still red


def test_images_of_different_sizes_need_an_image_size(tmp_path):
    root = make_folder(tmp_path / "mixed", per_class=3, mixed=True)
    with pytest.raises(ZooError, match=r"differ in size .* set data.image_size"):
        load_data(DataConfig(dataset="imagefolder", root=root))


def test_decoding_is_resize_then_centre_crop():
    """torchvision's Resize(shorter side / crop ratio) then CenterCrop: the same scaled size
    and crop offsets (80×48 scales to 66×40, not 67), so only resampling rounding differs."""
    from torchvision.transforms import v2

    rows, cols = np.mgrid[0:48, 0:80]
    array = np.stack([rows * 5, cols * 3, (rows + cols) * 2], axis=-1).astype(np.uint8)
    path = Path("/tmp") / "zoo-test-decode.png"
    Image.fromarray(array).save(path)
    ours = decode(path, (32, 32), crop_ratio=0.8).float()
    theirs = v2.Compose([v2.Resize(40), v2.CenterCrop(32), v2.PILToTensor()])(Image.open(path))
    assert ours.shape == theirs.shape == (3, 32, 32)
    difference = (ours - theirs.float()).abs()
    assert difference.max() <= 1 and difference.mean() < 0.1  # a smooth image: rounding alone


def test_streamed_batches_equal_held_ones(tmp_path):
    """The same (seed, epoch, rank) order and augmentation from disk as from memory."""
    root = make_folder(tmp_path / "same", per_class=10, mixed=True)
    config = DataConfig(dataset="imagefolder", root=root, image_size=16, workers=2)
    held = load_data(config.model_copy(update={"in_memory": True}))
    streamed = load_data(config.model_copy(update={"in_memory": False}))
    assert streamed.streamed and not held.streamed
    augment = Augmentation(steps=("random_resized_crop", "flip", "color_jitter"))
    loaders = [
        DeviceLoader(
            s.train_images,
            s.train_labels,
            batch_size=8,
            shuffle=True,
            drop_last=True,
            augment=augment,
            seed=3,
            workers=2,
        )
        for s in (held, streamed)
    ]
    for loader in loaders:
        loader.set_epoch(1)
    for (a, la), (b, lb) in zip(*loaders, strict=True):
        assert torch.equal(la, lb)
        torch.testing.assert_close(a, b)


def test_a_folder_beyond_the_memory_budget_streams(tmp_path, monkeypatch):
    root = make_folder(tmp_path / "big", per_class=4, mixed=False)
    monkeypatch.setattr(imagefolder_module, "available_memory", lambda: 1000)
    assert load_data(DataConfig(dataset="imagefolder", root=root)).streamed
    with pytest.raises(ZooError, match=r"in_memory = true, but the 16 images take .* GiB"):
        load_data(DataConfig(dataset="imagefolder", root=root, in_memory=True))


@pytest.mark.parametrize(("limit", "used"), [("RLIMIT_DATA", "VmData"), ("RLIMIT_AS", "VmSize")])
def test_the_memory_budget_honours_ulimits(monkeypatch, limit, used):
    """Under ``ulimit -d`` or ``-v`` what the process may still allocate is the limit less what
    it already uses, however much memory the machine has free."""
    resource = pytest.importorskip("resource")
    headroom = 64 * 2**20
    in_use = imagefolder_module._meminfo_kib("/proc/self/status")[used] * 1024
    limits = {getattr(resource, limit): in_use + headroom}
    monkeypatch.setattr(
        resource, "getrlimit", lambda which: (limits.get(which, resource.RLIM_INFINITY),) * 2
    )
    assert 0 < imagefolder_module.available_memory() <= 2 * headroom


def test_a_corrupt_image_is_named_or_skipped_and_counted(tmp_path):
    root = make_folder(tmp_path / "bad", per_class=4, mixed=False)
    bad = root / "train" / "red" / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    config = DataConfig(dataset="imagefolder", root=root, image_size=16, workers=0)
    with pytest.raises(ZooError, match=r"broken\.png.*skip_bad_images"):
        load_data(config)
    splits = load_data(config.model_copy(update={"skip_bad_images": True}))
    assert splits.skipped == 1 and len(splits.train_labels) == 8
    streamed = load_data(config.model_copy(update={"skip_bad_images": True, "in_memory": False}))
    loader = DeviceLoader(streamed.train_images, streamed.train_labels, batch_size=9,
                          skip_bad=True)  # fmt: skip
    assert sum(len(labels) for _, labels in loader) == 8 and loader.skipped == 1


@pytest.mark.parametrize(
    ("arrange", "message"),
    [
        (lambda root: (root / "train" / "blue").rename(root / "blue"), "one class folder"),
        (lambda root: (root / "val" / "red").rename(root / "val" / "green"), "only in val: green"),
        (
            lambda root: [p.unlink() for p in (root / "train" / "red").glob("*.png")],
            r"red has no images",
        ),
    ],
)
def test_folders_that_cannot_train_are_one_line(tmp_path, arrange, message):
    root = make_folder(tmp_path / "f", per_class=2, mixed=False)
    arrange(root)
    if message == "one class folder":
        import shutil

        shutil.rmtree(root / "val")
    with pytest.raises(ZooError, match=message):
        load_data(DataConfig(dataset="imagefolder", root=root, val_split=0.5))


def test_imagenet_augmentations_keep_the_size_and_are_seeded():
    images = torch.randint(0, 256, (6, 3, 20, 24), dtype=torch.uint8)
    augment = Augmentation(steps=("random_resized_crop", "color_jitter", "flip"))
    draws = [augment.draw(6, (20, 24), torch.Generator().manual_seed(5)) for _ in range(2)]
    assert torch.equal(*draws)
    out = augment.apply(images, draws[0])
    assert out.shape == images.shape and out.min() >= 0 and out.max() <= 255
    first = augment._layout()["random_resized_crop"]
    boxes = draws[0][:, first : first + 4]
    assert ((boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])).all()
    assert (boxes[:, 2] <= 24).all() and (boxes[:, 3] <= 20).all()
