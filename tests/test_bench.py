"""The benchmark scripts run (on the CPU, with tiny sizes). No test asserts a timing.

bench/gpu.sh must run where the first GPU session will run it: a bare, perhaps read-only copy of
the repository and a Python that has torch but not zoo. The tests build exactly that: the tracked
(and untracked, not ignored) files copied and made read-only, and this interpreter started with
``-S`` (no site initialisation, so no ``.pth`` file installs zoo) over a copy of its
site-packages without zoo.
"""

from __future__ import annotations

import json
import shutil
import site
import stat
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "bench"
NOT_COPIED = (".git", ".venv", "__pycache__", "*.egg-info", "site", "runs", "data", ".*_cache")


def bare_copy(destination: Path) -> Path:
    """The repository's files as a fresh clone has them (with any uncommitted work)."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO, capture_output=True, check=False,
    )  # fmt: skip
    if listed.returncode != 0:  # not a git checkout: copy all but what git would ignore
        shutil.copytree(REPO, destination, ignore=shutil.ignore_patterns(*NOT_COPIED))
        return destination
    for name in filter(None, listed.stdout.decode().split("\0")):
        if (REPO / name).is_file():
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, destination / name)
    return destination


def set_writable(root: Path, writable: bool) -> None:
    write = stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH
    for path in [root, *root.rglob("*")]:
        mode = path.stat().st_mode
        path.chmod(mode | stat.S_IWUSR if writable else mode & ~write)


def snapshot(root: Path) -> dict[str, float]:
    return {str(path.relative_to(root)): path.stat().st_mtime for path in root.rglob("*")}


def python_without_zoo(folder: Path, hide: tuple[str, ...] = ()) -> dict[str, str]:
    """The environment of a Python that has zoo's dependencies (less ``hide``) but not zoo."""
    packages = folder / "site-packages"
    packages.mkdir()
    hidden = ("zoo", *hide)
    for directory in map(Path, site.getsitepackages()):
        for entry in directory.iterdir():
            stem = entry.name.split("-")[0].removesuffix(".py")
            installs_zoo = entry.name.startswith("__editable__")
            if stem not in hidden and not installs_zoo and not (packages / entry.name).exists():
                (packages / entry.name).symlink_to(entry)
    wrapper = folder / "python"
    wrapper.write_text(f'#!/bin/sh\nexec "{sys.executable}" -S "$@"\n')
    wrapper.chmod(0o755)
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(folder),
        "PYTHON": str(wrapper),
        "PYTHONPATH": str(packages),
        "PYTHONPYCACHEPREFIX": str(folder / "pycache"),  # bytecode is not the copy's to hold
    }
    check = subprocess.run(  # torch's import is the scripts' to pay; zoo's absence is the point
        [str(wrapper), "-c", "import zoo"], cwd=folder, env=env, capture_output=True,
        text=True, check=False,
    )  # fmt: skip
    assert check.returncode != 0 and "No module named 'zoo'" in check.stderr, check.stderr
    return env


@pytest.fixture
def read_only_copy(tmp_path):
    copy = bare_copy(tmp_path / "copy")
    assert not (copy / ".venv").exists() and (copy / "bench" / "gpu.sh").is_file()
    set_writable(copy, False)
    yield copy
    set_writable(copy, True)


@pytest.mark.slow
def test_gpu_benchmark_runs_on_the_cpu_from_a_bare_read_only_copy(tmp_path, read_only_copy):
    env = python_without_zoo(tmp_path)
    before = snapshot(read_only_copy)
    out = tmp_path / "gpu.json"
    result = subprocess.run(
        ["bash", str(read_only_copy / "bench" / "gpu.sh"), "--cpu",
         "--models", "resnet20_v1", "--test-images", "16", "--json", str(out)],
        cwd=tmp_path, capture_output=True, text=True, check=False, timeout=900, env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert snapshot(read_only_copy) == before  # it wrote nothing into the copy
    data = json.loads(out.read_text())
    rows = data["rows"]
    assert {(row["model"], row["batch"]) for row in rows} == {
        (model, batch)
        for model in ("resnet20_v1",)  # the smallest: the code is the same for every model
        for batch in (32, 128)
    }
    assert all(row["zoo_s_per_epoch"] > 0 and row["hand_s_per_epoch"] > 0 for row in rows)
    # Dynamo starts afresh in each case: each compiles its own training graph and evaluation's
    assert all(row["zoo_graphs"] == 2 and row["zoo_compile_s"] > 0 for row in rows)
    assert data["settings"]["hand"]["cudnn.allow_tf32"] is False
    assert "s/epoch" in result.stdout and "img/s" in result.stdout


@pytest.mark.slow
def test_a_missing_package_is_named_in_one_line(tmp_path, read_only_copy):
    env = python_without_zoo(tmp_path, hide=("tomli_w",))
    result = subprocess.run(
        ["bash", str(read_only_copy / "bench" / "gpu.sh"), "--cpu"],
        cwd=tmp_path, capture_output=True, text=True, check=False, timeout=300, env=env,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "package 'tomli-w' is missing" in result.stderr


@pytest.mark.slow
def test_cpu_benchmark_runs_with_ddp(tmp_path):
    out = tmp_path / "cpu.json"
    command = [
        sys.executable,
        str(BENCH / "cpu.py"),
        "--train-images",
        "250",
        "--test-images",
        "50",
        "--epochs",
        "2",
        "--batch-size",
        "64",  # each of the 2 processes has 125 images: a full batch of 64 (128 would be none)
        "--ddp",
        "2",
        "--json",
        str(out),
    ]
    result = subprocess.run(command, capture_output=True, text=True, check=False, timeout=900)
    assert result.returncode == 0, result.stderr[-2000:]
    data = json.loads(out.read_text())
    for key in (
        "a_zoo_train",
        "b_hand_written",
        "c_model_alone",
        "a_over_b",
        "a_over_c",
        "ddp_images_per_s",
        "ddp_scaling",
    ):
        assert data[key] > 0
    assert "a/b =" in result.stdout and "DDP 2 processes" in result.stdout


@pytest.mark.slow
def test_inference_benchmark_runs(tmp_path):
    pytest.importorskip("onnxruntime")
    out = tmp_path / "predict.json"
    result = subprocess.run(
        [sys.executable, str(BENCH / "predict.py"), "--images", "20", "--batch-size", "8",
         "--repeats", "1", "--seconds", "0.2", "--json", str(out)],
        capture_output=True, text=True, check=False, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    figures = json.loads(out.read_text())
    assert figures["ratio"] > 0 and set(figures["runtimes"]) == {"1", "64"}
    assert "onnxruntime" in result.stdout and "zoo predict" in result.stdout


@pytest.mark.slow
def test_the_benchmark_against_training_runs(tmp_path):
    out = tmp_path / "ratio.json"
    result = subprocess.run(
        [sys.executable, str(BENCH / "benchmark_vs_train.py"), "--train-images", "64",
         "--epochs", "2", "--batch-size", "16", "--steps", "1", "--json", str(out)],
        capture_output=True, text=True, check=False, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    figures = json.loads(out.read_text())
    assert figures["ratio"] > 0 and len(figures["train"]) == 2
    assert figures["benchmark"]["batch_size"] == 16 and "b/a =" in result.stdout
