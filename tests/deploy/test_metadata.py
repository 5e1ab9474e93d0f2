"""Damaged preprocessing metadata, in a checkpoint or an export's sidecar: one line naming the
file and the key, in predict, export and ``zoo.build_model(FILE.safetensors)`` alike."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch

import zoo
from zoo.errors import ZooError

CHECKPOINT_CASES = [
    ({"image_size": [0, 0]}, "image_size[0]: Input should be greater than or equal to 1"),
    ({"image_size": [-32, -32]}, "image_size[0]: Input should be greater than or equal to 1"),
    ({"image_size": [32]}, "image_size: expected [height, width] (got (32,))"),
    ({"image_size": ["big", "small"]}, "image_size[0]: Input should be a valid integer"),
    ({"image_size": [60000, 60000]}, "image_size[0]: Input should be less than or equal to 8192"),
    ({"image_size": 32}, "image_size: expected [height, width] (got 32)"),
    ({"crop_ratio": 0}, "crop_ratio: Input should be greater than 0"),
    ({"crop_ratio": -0.5}, "crop_ratio: Input should be greater than 0"),
    ({"crop_ratio": "wide"}, "crop_ratio: Input should be a valid number"),
    ({"crop_ratio": float("nan")}, "crop_ratio: Input should be a finite number"),
    ({"classes": []}, "classes: List should have at least 1 item"),
    ({"classes": [1, 2]}, "classes[0]: Input should be a valid string"),
    ({"mean": torch.zeros(2, 1, 1)}, "normalizer.mean: expected 1 or 3 channels"),
    ({"std": torch.zeros(3, 1, 1)}, "normalizer.std: must be above 0"),
    ({"std": torch.full((3, 1, 1), float("inf"))}, "normalizer.std: holds a value"),
    ({"mean": torch.zeros(1, 1, 1), "std": torch.ones(1, 1, 1)}, "normaliser has 1 channel but"),
    ({"mean": torch.zeros(3, 9, 9)}, "mean is a per-pixel image of (9, 9) but the image size"),
]


def damaged_checkpoint(shapes_run: Path, folder: Path, change: dict) -> Path:
    state = torch.load(shapes_run / "best.pt", weights_only=True)
    for key, value in change.items():
        if key in ("mean", "std"):
            state["normalizer"][key] = value
        else:
            state[key] = value
    path = folder / "damaged.pt"
    torch.save(state, path)
    return path


def one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("zoo: error: ") and "Traceback" not in err
    return lines[0]


@pytest.mark.parametrize(("change", "message"), CHECKPOINT_CASES, ids=str)
def test_a_damaged_checkpoint_is_one_line_in_predict_and_export(
    change, message, run_zoo, shapes_run, tmp_path
):
    path = damaged_checkpoint(shapes_run, tmp_path, change)
    image = tmp_path / "x.png"
    from image_files import write_image

    write_image(image, 40, 40)
    predicted = run_zoo("predict", str(path), str(image))
    assert predicted.code == 2 and message in one_error_line(predicted.err)
    assert str(path) in predicted.err
    exported = run_zoo(
        "export", str(path), "--format", "safetensors", "-o", str(tmp_path / "m.safetensors")
    )
    assert exported.code == 2 and message in one_error_line(exported.err)
    assert not (tmp_path / "m.safetensors").exists()


SIDECAR_CASES = [
    (lambda meta: meta.update(image_size=[0, 0]), "image_size[0]: Input should be greater"),
    (lambda meta: meta.update(image_size=[60000, 60000]), "less than or equal to 8192"),
    (lambda meta: meta["preprocessing"].update(crop_ratio="wide"), "preprocessing.crop_ratio:"),
    (
        lambda meta: meta["preprocessing"].update(std=[0, 0, 0]),
        "preprocessing.std: must be above 0",
    ),
    (lambda meta: meta["preprocessing"].update(mean=[0.5, 0.5]), "preprocessing.mean: "),
    (
        lambda meta: meta["preprocessing"].update(mean="grey"),
        "preprocessing.mean: expected numbers",
    ),
    (lambda meta: meta.pop("preprocessing"), "preprocessing: missing"),
    (lambda meta: meta.pop("classes"), "classes: missing required key"),
    (lambda meta: meta.update(spec={"stages": "many"}), "the network it describes is invalid"),
]


@pytest.fixture(scope="module")
def exported(shapes_run, tmp_path_factory) -> Path:
    from zoo.cli import main

    out = tmp_path_factory.mktemp("exported") / "model.safetensors"
    assert main(["export", str(shapes_run), "--format", "safetensors", "-o", str(out)]) == 0
    return out


@pytest.mark.parametrize(("damage", "message"), SIDECAR_CASES)
def test_a_damaged_sidecar_is_one_line_in_build_model_and_predict(
    damage, message, exported, run_zoo, tmp_path
):
    copy = tmp_path / "model.safetensors"
    copy.write_bytes(exported.read_bytes())
    meta = json.loads(exported.with_suffix(".json").read_text())
    damage(meta)
    copy.with_suffix(".json").write_text(json.dumps(meta))
    with pytest.raises(ZooError, match=re.escape(message)) as caught:
        zoo.build_model(str(copy))
    assert "\n" not in str(caught.value) and str(copy.with_suffix(".json")) in str(caught.value)
    from image_files import write_image

    result = run_zoo("predict", str(copy), str(write_image(tmp_path / "x.png", 40, 40)))
    assert result.code == 2 and message in one_error_line(result.err)
