"""``zoo export``: each format runs without zoo's preprocessing and agrees with PyTorch."""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

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


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("dir", "is a directory; give a file in it"),
        ("best", "is the model being exported; choose another file"),
        ("dangling", "is a symbolic link; give the file itself"),
        ("readonly", "is read-only"),
        ("/dev/full", "is not a regular file"),
    ],
)
def test_outputs_that_must_not_be_written_are_one_line(
    target, message, run_zoo, shapes_run, tmp_path
):
    before = (shapes_run / "best.pt").read_bytes()
    if target == "dir":
        (tmp_path / "dir").mkdir()
        out = tmp_path / "dir"
    elif target == "best":
        out = shapes_run / "best.pt"
    elif target == "dangling":
        out = tmp_path / "link.pt2"
        out.symlink_to(tmp_path / "missing" / "m.pt2")
    elif target == "readonly":
        out = tmp_path / "m.pt2"
        out.write_bytes(b"kept")
        out.chmod(0o444)
    else:
        out = Path(target)
    result = run_zoo("export", str(shapes_run), "--format", "pt2", "-o", str(out))
    assert result.code == 2 and message in result.err
    assert len(result.err.strip().splitlines()) == 1
    assert (shapes_run / "best.pt").read_bytes() == before
    if target == "readonly":
        assert out.read_bytes() == b"kept"
    assert not [path for path in tmp_path.iterdir() if path.name.startswith(".")]


def test_exports_get_the_mode_of_any_new_file(run_zoo, shapes_run, tmp_path):
    umask = os.umask(0o022)
    try:
        for format, name in (("pt2", "m.pt2"), ("safetensors", "m.safetensors")):
            assert run_zoo("export", str(shapes_run), "--format", format, "-o",
                           str(tmp_path / name)).code == 0  # fmt: skip
    finally:
        os.umask(umask)
    modes = {path.name: stat.S_IMODE(path.stat().st_mode) for path in tmp_path.iterdir()}
    assert modes == {"m.pt2": 0o644, "m.safetensors": 0o644, "m.json": 0o644}


def test_sigterm_while_writing_leaves_nothing_behind(shapes_run, tmp_path, monkeypatch):
    """The signal arrives after half the bytes are written: the staging folder goes, and the
    file that was at -o stays as it was."""
    from zoo.deploy import export as exporting
    from zoo.deploy.trained import load_trained

    out = tmp_path / "m.pt2"
    out.write_bytes(b"an earlier export")
    real = Path.write_bytes

    def interrupted(self, data):
        real(self, data[: len(data) // 2])
        os.kill(os.getpid(), signal.SIGTERM)

    monkeypatch.setattr(Path, "write_bytes", interrupted)
    with pytest.raises(SystemExit) as stopped:
        exporting.export(load_trained(shapes_run), "pt2", out)
    assert stopped.value.code == 128 + signal.SIGTERM
    assert [path.name for path in tmp_path.iterdir()] == ["m.pt2"]
    monkeypatch.undo()
    assert out.read_bytes() == b"an earlier export"
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


@pytest.mark.slow
def test_a_file_size_limit_is_one_line_and_no_file(shapes_run, tmp_path):
    """``ulimit -f``: the write fails with EFBIG (Python ignores SIGXFSZ), in one line."""
    out = tmp_path / "m.onnx"
    command = (
        f"ulimit -f 16; exec {sys.executable} -m zoo export {shapes_run} --format pt2 -o {out}"
    )
    result = subprocess.run(["bash", "-c", command], capture_output=True, text=True, check=False)
    assert result.returncode == 2, result.stderr
    assert (
        result.stderr.startswith("zoo: error: -o ")
        and "cannot write it (File too large)" in result.stderr
    )
    assert len(result.stderr.strip().splitlines()) == 1 and list(tmp_path.iterdir()) == []
