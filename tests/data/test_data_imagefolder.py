"""The image-folder data set: layout, agreement with CIFAR's forms, and layout errors."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import torch
from cifar_files import TinyCifar, write_cifar10_binary, write_cifar10_python, write_image_folder
from torchvision.transforms.v2.functional import to_pil_image

from zoo.data import DataConfig, DataSplits, load_data
from zoo.errors import ZooError


def load(root: Path, **options: object) -> DataSplits:
    return load_data(DataConfig(dataset="imagefolder", root=root, **options))


def by_class(images: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """ImageFolder's order: class by class, each in file-name (here: original) order."""
    order = torch.sort(labels, stable=True).indices
    return images[order], labels[order]


def test_agrees_with_both_cifar_forms(tmp_path: Path, tiny4: TinyCifar) -> None:
    write_image_folder(tiny4, tmp_path / "folder")
    write_cifar10_python(tiny4, tmp_path / "py")
    write_cifar10_binary(tiny4, tmp_path / "bin")
    folder = load(tmp_path / "folder")
    assert folder.classes == tiny4.classes and folder.name == "imagefolder"
    for root in (tmp_path / "py", tmp_path / "bin"):
        cifar = load_data(DataConfig(dataset="cifar10", root=root))
        for split in ("train", "val"):
            expected = by_class(
                getattr(cifar, f"{split}_images"), getattr(cifar, f"{split}_labels")
            )
            assert torch.equal(getattr(folder, f"{split}_images"), expected[0])
            assert torch.equal(getattr(folder, f"{split}_labels"), expected[1])


def test_val_class_folders_must_match(tmp_path: Path, tiny4: TinyCifar) -> None:
    write_image_folder(tiny4, tmp_path)
    (tmp_path / "val" / "class3").rename(tmp_path / "val" / "extra")
    with pytest.raises(ZooError, match=r"only in train: class3; only in val: extra"):
        load(tmp_path)


def test_images_must_share_one_size(tmp_path: Path, tiny4: TinyCifar) -> None:
    write_image_folder(tiny4, tmp_path)
    odd = tmp_path / "train" / "class2" / "odd.png"
    to_pil_image(torch.zeros(3, 16, 20, dtype=torch.uint8)).save(odd)
    with pytest.raises(ZooError, match=re.escape(f"{odd} is 16×20); set data.image_size")):
        load(tmp_path)


def test_val_images_must_match_train_size(tmp_path: Path, tiny4: TinyCifar) -> None:
    write_image_folder(tiny4, tmp_path)
    for path in (tmp_path / "val").rglob("*.png"):
        to_pil_image(torch.zeros(3, 8, 8, dtype=torch.uint8)).save(path)
    with pytest.raises(ZooError, match="the images differ in size"):
        load(tmp_path)


def test_undecodable_image_is_named(tmp_path: Path, tiny4: TinyCifar) -> None:
    write_image_folder(tiny4, tmp_path)
    bad = tmp_path / "train" / "class0" / "zz_broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    with pytest.raises(ZooError, match=f"cannot read the image {re.escape(str(bad))}"):
        load(tmp_path)


def test_missing_train_folder_shows_the_layout(tmp_path: Path) -> None:
    with pytest.raises(ZooError, match=r"no folder .*train; expected root/train/<class>"):
        load(tmp_path)


def test_empty_class_folder_is_reported(tmp_path: Path, tiny4: TinyCifar) -> None:
    write_image_folder(tiny4, tmp_path)
    (tmp_path / "train" / "empty").mkdir()
    (tmp_path / "val" / "empty").mkdir()
    with pytest.raises(ZooError, match=r"imagefolder: .*train/empty has no images \(endings: .jpg"):
        load(tmp_path)


def test_val_folder_optional_with_val_split(tmp_path: Path, tiny4: TinyCifar) -> None:
    write_image_folder(tiny4, tmp_path)
    shutil.rmtree(tmp_path / "val")
    splits = load(tmp_path, val_split=0.25)
    assert len(splits.train_labels) == 15 and len(splits.val_labels) == 5
    with pytest.raises(ZooError, match=r"no folder .*val"):
        load(tmp_path)


def test_a_symlink_loop_ends_and_loads_each_image_once(tmp_path: Path, tiny4: TinyCifar) -> None:
    write_image_folder(tiny4, tmp_path)
    plain = load(tmp_path)
    first = sorted((tmp_path / "train").iterdir())[0]
    (first / "up").symlink_to("..")  # train/<class>/up -> train: a loop through every class
    (first / "self").symlink_to(".")
    looped = load(tmp_path)  # would hang, or load a class's images again under up/ and self/
    assert torch.equal(looped.train_images, plain.train_images)
    assert torch.equal(looped.train_labels, plain.train_labels)


def test_a_decompression_bomb_is_a_bad_image(
    tmp_path: Path, tiny4: TinyCifar, monkeypatch: pytest.MonkeyPatch
) -> None:
    from PIL import Image

    write_image_folder(tiny4, tmp_path)
    for limit in (1000, 400):  # 32×32 = 1024 pixels: over the warning limit, then over twice it
        monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", limit)
        with pytest.raises(ZooError, match=r"cannot read the image .*\.png.*decompression bomb"):
            load(tmp_path)
