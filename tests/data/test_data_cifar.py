"""CIFAR-10/100 from the python (pickle) and binary forms; safety and error messages."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest
import torch
from cifar_files import (
    TinyCifar,
    py2_pickle,
    write_cifar10_binary,
    write_cifar10_python,
    write_cifar100_binary,
    write_cifar100_python,
)

from zoo.data import DataConfig, load_data
from zoo.data.cifar import CIFAR10_FILES
from zoo.data.safe_pickle import load_pickle
from zoo.errors import ZooError


def load(dataset: str, root: Path, **options: object) -> object:
    return load_data(DataConfig(dataset=dataset, root=root, **options))


def assert_matches(splits: object, tiny: TinyCifar) -> None:
    assert torch.equal(splits.train_images, tiny.train_images)
    assert torch.equal(splits.train_labels, tiny.train_labels)
    assert torch.equal(splits.val_images, tiny.test_images)
    assert torch.equal(splits.val_labels, tiny.test_labels)
    assert splits.classes == tiny.classes
    assert splits.train_images.dtype == torch.uint8
    assert splits.train_labels.dtype == torch.int64


def python3_pickle(obj: object, path: Path) -> None:
    """A batch re-pickled by Python 3 at protocol 2 (bytes go through _codecs.encode)."""
    path.write_bytes(pickle.dumps(obj, protocol=2))


@pytest.mark.parametrize("writer", [py2_pickle, python3_pickle], ids=["cpickle", "python3"])
def test_cifar10_python_form(tmp_path: Path, tiny10: TinyCifar, writer: object) -> None:
    write_cifar10_python(tiny10, tmp_path, writer)
    splits = load("cifar10", tmp_path)
    assert_matches(splits, tiny10)
    assert splits.name == "cifar10" and splits.num_classes == 10


def test_cifar10_binary_form_agrees_with_python_form(tmp_path: Path, tiny10: TinyCifar) -> None:
    write_cifar10_python(tiny10, tmp_path / "py")
    write_cifar10_binary(tiny10, tmp_path / "bin")
    from_python, from_binary = load("cifar10", tmp_path / "py"), load("cifar10", tmp_path / "bin")
    assert_matches(from_binary, tiny10)
    assert torch.equal(from_python.train_images, from_binary.train_images)


def test_cifar100_both_forms(tmp_path: Path, tiny100: TinyCifar) -> None:
    write_cifar100_python(tiny100, tmp_path / "py")
    write_cifar100_binary(tiny100, tmp_path / "bin")
    for root in (tmp_path / "py", tmp_path / "bin"):
        splits = load("cifar100", root)
        assert_matches(splits, tiny100)  # fine labels, not coarse
        assert splits.num_classes == 100


def test_refuses_malicious_pickle_without_running_it(tmp_path: Path, tiny10: TinyCifar) -> None:
    folder = write_cifar10_python(tiny10, tmp_path)
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self) -> tuple[object, ...]:
            return (os.system, (f"touch {marker}",))

    (folder / "data_batch_2").write_bytes(pickle.dumps({b"data": Exploit()}, protocol=2))
    with pytest.raises(
        ZooError, match=r"refusing to unpickle (posix|nt)\.system from .*data_batch_2"
    ):
        load("cifar10", tmp_path)
    assert not marker.exists()


@pytest.mark.parametrize("protocol", [2, pickle.HIGHEST_PROTOCOL])
@pytest.mark.parametrize("payload", [eval, getattr, __import__])
def test_refuses_builtins(tmp_path: Path, payload: object, protocol: int) -> None:
    path = tmp_path / "batch"
    path.write_bytes(pickle.dumps({b"x": payload}, protocol=protocol))
    with pytest.raises(ZooError, match=r"refusing to unpickle (__builtin__|builtins)\."):
        load_pickle(path)


def test_truncated_pickle_names_the_file(tmp_path: Path, tiny10: TinyCifar) -> None:
    folder = write_cifar10_python(tiny10, tmp_path)
    batch = folder / "data_batch_3"
    batch.write_bytes(batch.read_bytes()[:500])
    with pytest.raises(ZooError, match=r"cannot read .*data_batch_3: the file is truncated"):
        load("cifar10", tmp_path)


def test_garbage_pickle_names_the_file(tmp_path: Path, tiny10: TinyCifar) -> None:
    folder = write_cifar10_python(tiny10, tmp_path)
    (folder / "test_batch").write_bytes(b"\x00not a pickle at all")
    with pytest.raises(ZooError, match="test_batch"):
        load("cifar10", tmp_path)


def test_pickle_of_the_wrong_shape_is_reported(tmp_path: Path, tiny10: TinyCifar) -> None:
    folder = write_cifar10_python(tiny10, tmp_path)
    py2_pickle({b"labels": [0]}, folder / "data_batch_1")
    with pytest.raises(ZooError, match=r"data_batch_1 is not a cifar10 batch"):
        load("cifar10", tmp_path)


def test_labels_out_of_range_are_reported(tmp_path: Path, tiny10: TinyCifar) -> None:
    tiny10.test_labels[0] = 12
    write_cifar10_binary(tiny10, tmp_path)
    with pytest.raises(ZooError, match=r"test_batch.bin has labels outside 0..9"):
        load("cifar10", tmp_path)


def test_truncated_binary_names_the_file(tmp_path: Path, tiny10: TinyCifar) -> None:
    folder = write_cifar10_binary(tiny10, tmp_path)
    batch = folder / "data_batch_5.bin"
    batch.write_bytes(batch.read_bytes()[:-10])
    with pytest.raises(ZooError, match=r"data_batch_5.bin is truncated or corrupt"):
        load("cifar10", tmp_path)


def test_missing_batch_names_the_path(tmp_path: Path, tiny10: TinyCifar) -> None:
    folder = write_cifar10_python(tiny10, tmp_path)
    (folder / "data_batch_4").unlink()
    with pytest.raises(ZooError, match=r"missing .*data_batch_4"):
        load("cifar10", tmp_path)


def test_absent_without_download_says_where_and_how(tmp_path: Path) -> None:
    with pytest.raises(ZooError) as error:
        load("cifar10", tmp_path / "nowhere", download=False)
    message = str(error.value)
    assert str(tmp_path / "nowhere" / "cifar-10-batches-py") in message
    assert CIFAR10_FILES.url in message and "download is false" in message
    assert "\n" not in message


def test_failed_download_says_where_and_how(tmp_path: Path) -> None:
    with pytest.raises(ZooError) as error:
        load("cifar100", tmp_path)  # the autouse fixture makes every download fail
    message = str(error.value)
    assert str(tmp_path / "cifar-100-python") in message
    assert "downloading it failed" in message and "cifar-100-python.tar.gz" in message


def test_val_split_holds_out_training_images(tmp_path: Path, tiny10: TinyCifar) -> None:
    write_cifar10_python(tiny10, tmp_path)
    splits = load("cifar10", tmp_path, val_split=0.25)
    again = load("cifar10", tmp_path, val_split=0.25)
    assert len(splits.val_labels) == 5 and len(splits.train_labels) == 15
    assert torch.equal(splits.val_images, again.val_images)
    held_out = torch.cat([splits.train_images, splits.val_images]).flatten(1)
    assert sorted(map(bytes, held_out.numpy())) == sorted(
        map(bytes, tiny10.train_images.flatten(1).numpy())
    )


def test_a_failed_download_leaves_no_folders_or_partial_files_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "new" / "data"

    def partial(url: str, download_root: Path, filename: str, **_: object) -> None:
        Path(download_root).mkdir(parents=True, exist_ok=True)  # as torchvision's does
        (Path(download_root) / filename).write_bytes(b"half an archive")
        raise OSError("connection reset")

    monkeypatch.setattr("zoo.data.cifar.download_and_extract_archive", partial)
    with pytest.raises(ZooError, match="downloading it failed"):
        load("cifar10", root)
    assert not (tmp_path / "new").exists() and tmp_path.exists()
    kept = tmp_path / "kept"
    kept.mkdir()
    (kept / "mine.txt").write_text("the user's")
    with pytest.raises(ZooError):
        load("cifar10", kept)
    assert [p.name for p in kept.iterdir()] == ["mine.txt"]  # only what the download made
