"""``zoo export``: each format runs without zoo's preprocessing and agrees with PyTorch."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
import torch

import zoo
from zoo.deploy.export import check_batch
from zoo.deploy.trained import load_trained


def reference_logits(run, images: torch.Tensor) -> torch.Tensor:
    """The checkpoint's network on ``images`` in [0, 1], normalised by hand."""
    trained = load_trained(run)
    with torch.no_grad():
        return trained.network((images - trained.mean) / trained.std)


def test_onnx_export_has_metadata_a_dynamic_batch_and_matches_torch(run_zoo, shapes_run, tmp_path):
    onnx = pytest.importorskip("onnx")
    onnxruntime = pytest.importorskip("onnxruntime")
    out = tmp_path / "model.onnx"
    result = run_zoo("export", str(shapes_run / "best.pt"), "--format", "onnx", "-o", str(out))
    assert result.code == 0, result.err
    assert "largest difference from PyTorch" in result.out
    assert not (tmp_path / "model.onnx.data").exists()  # the weights are inside: one file
    props = {prop.key: prop.value for prop in onnx.load(out).metadata_props}
    classes = torch.load(shapes_run / "best.pt", weights_only=True)["classes"]
    assert json.loads(props["classes"]) == classes
    assert json.loads(props["image_size"]) == [32, 32]
    assert 'preset = "resnet8_v1"' in props["recipe"]
    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    images = torch.rand(5, 3, 32, 32)  # a batch size the export never saw
    (logits,) = session.run(None, {session.get_inputs()[0].name: images.numpy()})
    np.testing.assert_allclose(logits, reference_logits(shapes_run, images), atol=1e-4)


def test_pt2_export_loads_with_torch_export_and_matches(run_zoo, shapes_run, tmp_path):
    out = tmp_path / "model.pt2"
    result = run_zoo("export", str(shapes_run), "--format", "pt2", "-o", str(out))
    assert result.code == 0, result.err
    extra = {"zoo.json": ""}
    program = torch.export.load(out, extra_files=extra)
    assert json.loads(json.loads(extra["zoo.json"])["image_size"]) == [32, 32]
    images = torch.rand(4, 3, 32, 32)
    torch.testing.assert_close(
        program.module()(images), reference_logits(shapes_run, images), atol=1e-5, rtol=1e-5
    )


def test_safetensors_pair_loads_back_in_build_model_and_predict(run_zoo, shapes_run, tmp_path):
    out = tmp_path / "model.safetensors"
    result = run_zoo("export", str(shapes_run), "--format", "safetensors", "-o", str(out))
    assert result.code == 0, result.err
    sidecar = json.loads((tmp_path / "model.json").read_text())
    assert sidecar["spec"]["name"] == "resnet8_v1" and len(sidecar["classes"]) == 10
    assert sidecar["preprocessing"]["resize"].startswith("shorter side")
    network = zoo.build_model(str(out))
    trained = load_trained(shapes_run)
    images = check_batch(trained, 2)
    normalised = (images - trained.mean) / trained.std
    with torch.no_grad():
        torch.testing.assert_close(network(normalised), trained.network(normalised))
    from image_files import write_image

    image = write_image(tmp_path / "x.png", 40, 40)
    by_pair = run_zoo("predict", str(out), str(image), "--json")
    by_checkpoint = run_zoo("predict", str(shapes_run), str(image), "--json")
    assert json.loads(by_pair.out) == json.loads(by_checkpoint.out)


def test_a_failed_self_check_is_exit_1(run_zoo, shapes_run, tmp_path, monkeypatch):
    monkeypatch.setattr("zoo.deploy.export.ATOL", -1.0)  # no difference can be this small
    result = run_zoo("export", str(shapes_run), "--format", "pt2", "-o", str(tmp_path / "m.pt2"))
    assert result.code == 1
    assert result.err.startswith("zoo: export check failed:") and "tolerance" in result.err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--format", "tflite", "-o", "m.tflite"], "unknown export format 'tflite'; known: onnx"),
        (["--format", "pt2", "-o", "missing/m.pt2"], "no folder"),
        (["--format", "safetensors", "-o", "m.bin"], "must end in .safetensors"),
    ],
)
def test_bad_export_arguments_are_one_line(run_zoo, shapes_run, tmp_path, args, message):
    args = [str(tmp_path / arg) if arg.startswith(("m.", "missing")) else arg for arg in args]
    result = run_zoo("export", str(shapes_run), *args)
    assert result.code == 2
    assert len(result.err.strip().splitlines()) == 1 and message in result.err


def test_onnx_without_the_export_extra_names_it(run_zoo, shapes_run, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import onnxruntime fails
    result = run_zoo("export", str(shapes_run), "--format", "onnx", "-o", str(tmp_path / "m.onnx"))
    assert result.code == 2
    assert result.err.strip() == (
        "zoo: error: zoo export --format onnx needs onnxruntime, from the export extra: "
        "pip install 'zoo[export]'"
    )


@pytest.mark.parametrize("value", [float("nan"), 1e38], ids=["nan", "overflow"])
def test_non_finite_outputs_fail_the_check_before_anything_is_written(
    value, run_zoo, shapes_run, tmp_path
):
    """A check against NaN could never fail (every comparison is false): non-finite outputs of
    the network fail it at once, with exit 1, and no file is left."""
    state = torch.load(shapes_run / "best.pt", weights_only=True)
    first = next(key for key in state["model"] if "conv" in key)
    state["model"][first] = torch.full_like(state["model"][first], value)
    broken = tmp_path / "broken.pt"
    torch.save(state, broken)
    for format, name in (("safetensors", "m.safetensors"), ("pt2", "m.pt2")):
        result = run_zoo("export", str(broken), "--format", format, "-o", str(tmp_path / name))
        assert result.code == 1 and "not finite numbers" in result.err, result.err
        assert not (tmp_path / name).exists()
