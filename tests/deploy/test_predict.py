"""``zoo predict``: real checkpoints, real image files, the output contract and bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from image_files import write_image
from PIL import Image
from torchvision.transforms.v2.functional import pil_to_tensor

from zoo.data.files import decode
from zoo.deploy.predict import find_images
from zoo.deploy.trained import image_size, load_trained


def test_predict_json_lists_every_image_in_a_stable_order(run_zoo, shapes_run, image_folder):
    result = run_zoo(
        "predict",
        str(shapes_run / "best.pt"),
        str(image_folder),
        "--json",
        "--top-k",
        "3",
        "--batch-size",
        "2",
    )  # two batches: decoded by workers
    assert result.code == 0, result.err
    rows = json.loads(result.out)
    assert [row["image"] for row in rows] == [
        str(image_folder / "a.png"),
        str(image_folder / "b.png"),
        str(image_folder / "deep" / "c.jpg"),
    ]
    classes = set(torch.load(shapes_run / "best.pt", weights_only=True)["classes"])
    for row in rows:
        assert len(row["top"]) == 3
        probabilities = [top["probability"] for top in row["top"]]
        assert probabilities == sorted(probabilities, reverse=True)
        assert 0 < sum(probabilities) <= 1 + 1e-6
        assert {top["class"] for top in row["top"]} <= classes
    assert result.err.strip() == "zoo: skipped 1 file that is not an image"


def test_predict_matches_the_network_on_its_own_preprocessing(run_zoo, shapes_run, tmp_path):
    """A 32×32 image needs no resizing: the probabilities are the network's softmax of the
    checkpoint-normalised pixels (bf16 autocast where native: a loose tolerance)."""
    path = write_image(tmp_path / "x.png", 32, 32, seed=5)
    result = run_zoo("predict", str(shapes_run), str(path), "--json", "--top-k", "10")
    top = json.loads(result.out)[0]["top"]
    trained = load_trained(shapes_run)
    pixels = pil_to_tensor(Image.open(path).convert("RGB"))[None].float() / 255
    with torch.no_grad():
        expected = trained.network((pixels - trained.mean) / trained.std).softmax(1)[0]
    for entry in top:
        index = trained.classes.index(entry["class"])
        assert entry["probability"] == pytest.approx(expected[index].item(), abs=0.02)


def test_predict_prints_a_table_on_a_terminal(run_zoo, shapes_run, image_folder, monkeypatch):
    from zoo.cli.common import console

    monkeypatch.setattr(console, "_force_terminal", True)
    result = run_zoo("predict", str(shapes_run / "last.pt"), str(image_folder / "b.png"),
                     "--top-k", "2", "--batch-size", "1", "--device", "cpu")  # fmt: skip
    assert result.code == 0, result.err
    assert "┃ image" in result.out and "#2" in result.out and "b.png" in result.out
    assert "%" in result.out


def test_predict_into_a_pipe_is_one_line_per_image(run_zoo, shapes_run, image_folder):
    result = run_zoo("predict", str(shapes_run), str(image_folder), "--top-k", "2")
    assert result.code == 0, result.err
    header, *lines = result.out.splitlines()
    assert header == "image\t#1\t#2" and len(lines) == 3
    assert [line.split("\t")[0] for line in lines] == [
        str(image_folder / name) for name in ("a.png", "b.png", "deep/c.jpg")
    ]
    assert all(line.count("\t") == 2 and line.endswith("%") for line in lines)


def test_decoding_covers_then_crops_the_centre(tmp_path):
    wide = Image.new("RGB", (90, 30))
    wide.paste((255, 0, 0), (30, 0, 60, 30))  # a red centre square between black sides
    wide.save(tmp_path / "wide.png")
    cropped = decode(tmp_path / "wide.png", (16, 16), crop_ratio=1.0)
    assert cropped.shape == (3, 16, 16)
    assert cropped[0].float().mean() > 240  # only the red centre is left


def test_find_images_skips_other_files_and_refuses_missing_paths(image_folder):
    images, skipped = find_images([str(image_folder / "b.png"), str(image_folder)])
    assert images[0] == str(image_folder / "b.png") and len(images) == 3 and skipped == 1
    from zoo.errors import ZooError

    with pytest.raises(ZooError, match="no such file or folder"):
        find_images([str(image_folder / "missing")])


def test_unreadable_images_are_skipped_and_reported(run_zoo, shapes_run, image_folder):
    (image_folder / "broken.png").write_bytes(b"not a png")
    result = run_zoo("predict", str(shapes_run), str(image_folder), "--json")
    assert result.code == 0
    assert len(json.loads(result.out)) == 3
    assert "skipped 1 image that could not be read" in result.err and "broken.png" in result.err


def test_only_unreadable_images_is_exit_2(run_zoo, shapes_run, tmp_path):
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8 nothing")
    result = run_zoo("predict", str(shapes_run), str(tmp_path / "broken.jpg"))
    assert result.code == 2
    assert result.err.strip().splitlines()[-1] == "zoo: error: none of the 1 image could be read"


def test_a_folder_without_images_is_exit_2(run_zoo, shapes_run, tmp_path):
    (tmp_path / "a.txt").write_text("text")
    result = run_zoo("predict", str(shapes_run), str(tmp_path))
    assert result.code == 2 and "no images in" in result.err


def test_a_file_that_is_not_a_zoo_checkpoint_is_exit_2(run_zoo, image_folder, tmp_path):
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
    result = run_zoo("predict", str(tmp_path / "other.pt"), str(image_folder))
    assert result.code == 2
    *_, line = result.err.strip().splitlines()  # after the line on the skipped notes.txt
    assert line.startswith("zoo: error: ") and "not a zoo checkpoint (a dict with" in line


def test_a_checkpoint_without_class_names_labels_by_index_or_by_classes(
    run_zoo, shapes_run, image_folder, tmp_path
):
    state = torch.load(shapes_run / "best.pt", weights_only=True)
    del state["classes"]
    old = tmp_path / "old.pt"
    torch.save(state, old)
    result = run_zoo("predict", str(old), str(image_folder / "b.png"), "--json", "--top-k", "10")
    assert result.code == 0
    assert {top["class"] for top in json.loads(result.out)[0]["top"]} == {str(i) for i in range(10)}
    assert "labelled by index (give --classes" in result.err
    names = ",".join(f"c{i}" for i in range(10))
    named = run_zoo("predict", str(old), str(image_folder / "b.png"), "--json", "--classes", names)
    assert json.loads(named.out)[0]["top"][0]["class"].startswith("c")
    wrong = run_zoo("predict", str(old), str(image_folder / "b.png"), "--classes", "a,b")
    assert wrong.code == 2 and "10 outputs but 2 class names" in wrong.err


def test_image_size_prefers_the_recorded_size_then_the_data_set(shapes_run, tmp_path):
    recorded = torch.load(shapes_run / "best.pt", weights_only=True)
    assert recorded["image_size"] == [32, 32] and image_size(recorded) == (32, 32)
    state = {key: value for key, value in recorded.items() if key != "image_size"}  # older ones
    assert image_size(state) == (32, 32)  # shapes: CIFAR's size
    assert image_size({**state, "image_size": [3, 40, 48]}) == (40, 48)
    pixel_mean = {**state, "normalizer": {"mean": torch.zeros(3, 24, 28), "std": torch.ones(3)}}
    assert image_size(pixel_mean) == (24, 28)
    write_image(tmp_path / "data" / "train" / "cat" / "1.png", 20, 36)
    recipe = 'model = "resnet8_v1"\n[data]\ndataset = "imagefolder"\nroot = "%s"\n' % (
        tmp_path / "data"
    )
    assert image_size({**state, "recipe": recipe}) == (20, 36)


def test_a_top_k_below_one_is_exit_2(run_zoo, shapes_run, image_folder):
    result = run_zoo("predict", str(shapes_run), str(image_folder / "b.png"), "--top-k", "0")
    assert result.code == 2 and "--top-k and --batch-size must be at least 1" in result.err


def test_non_finite_outputs_are_an_error_not_nan_in_json(run_zoo, shapes_run, tmp_path):
    state = torch.load(shapes_run / "best.pt", weights_only=True)
    first = next(key for key in state["model"] if "conv" in key)
    state["model"][first] = torch.full_like(state["model"][first], float("nan"))
    broken = tmp_path / "broken.pt"
    torch.save(state, broken)
    image = write_image(tmp_path / "x.png", 40, 40)
    result = run_zoo("predict", str(broken), str(image), "--json")
    assert result.code == 2 and result.out == ""
    assert "not finite numbers for 1 of 1 images" in result.err and "NaN" not in result.out


@pytest.mark.parametrize("size", ["0", "-3"])
def test_a_batch_size_below_one_is_exit_2(size, run_zoo, shapes_run, image_folder):
    result = run_zoo("predict", str(shapes_run), str(image_folder / "b.png"), "--batch-size", size)
    assert result.code == 2 and "--batch-size must be at least 1" in result.err


@pytest.mark.slow
def test_output_to_a_full_disk_is_one_line(shapes_run, image_folder):
    with open("/dev/full", "w") as full:
        result = subprocess.run(
            [sys.executable, "-m", "zoo", "predict", str(shapes_run), str(image_folder), "--json"],
            stdout=full, stderr=subprocess.PIPE, text=True, check=False,
        )  # fmt: skip
    assert result.returncode == 1, result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        "zoo: error: cannot write the output: No space left on device"
    )
    assert "Traceback" not in result.stderr


def test_a_symlinked_subfolder_is_followed_as_training_follows_it(image_folder, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    write_image(elsewhere / "d.png", 20, 20)
    (image_folder / "linked").symlink_to(elsewhere, target_is_directory=True)
    (image_folder / "loop").symlink_to(image_folder, target_is_directory=True)  # walked once
    images, _ = find_images([str(image_folder)])
    assert [Path(image).name for image in images] == ["a.png", "b.png", "c.jpg", "d.png"]


def test_an_unreadable_subfolder_is_named_and_the_rest_predicted(
    run_zoo, shapes_run, image_folder, monkeypatch
):
    real = os.scandir

    def scandir(path="."):
        if Path(path).name == "deep":
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)  # root reads any folder: refuse one by hand
    result = run_zoo("predict", str(shapes_run), str(image_folder), "--json")
    assert result.code == 0 and len(json.loads(result.out)) == 2
    assert f"{image_folder / 'deep'}: cannot read the folder (Permission denied)" in result.err


def test_an_image_that_is_too_large_says_why(run_zoo, shapes_run, tmp_path, monkeypatch):
    from PIL import Image as PILImage

    monkeypatch.setattr(PILImage, "MAX_IMAGE_PIXELS", 100)  # 40×40 is then a bomb
    image = write_image(tmp_path / "bomb.png", 40, 40)
    result = run_zoo("predict", str(shapes_run), str(image))
    assert result.code == 2
    assert "bomb.png (Image size (1600 pixels) exceeds limit of 200 pixels" in result.err
