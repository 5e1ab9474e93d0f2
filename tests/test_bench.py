"""The benchmark scripts run (on the CPU, with tiny sizes). No test asserts a timing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"


@pytest.mark.slow
def test_gpu_benchmark_runs_on_the_cpu(tmp_path):
    out = tmp_path / "gpu.json"
    result = subprocess.run(
        ["bash", str(BENCH / "gpu.sh"), "--cpu", "--json", str(out)],
        capture_output=True, text=True, check=False, timeout=900,
        env={"PYTHON": sys.executable, "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    rows = json.loads(out.read_text())["rows"]
    assert {(row["model"], row["batch"]) for row in rows} == {
        (model, batch)
        for model in ("resnet20_v1", "resnet56_v2", "resnet110_v1")
        for batch in (32, 128)
    }
    assert all(row["zoo_s_per_epoch"] > 0 and row["hand_s_per_epoch"] > 0 for row in rows)
    assert "s/epoch" in result.stdout and "img/s" in result.stdout


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
        [sys.executable, str(BENCH / "predict.py"), "--images", "40", "--batch-size", "16",
         "--repeats", "1", "--json", str(out)],
        capture_output=True, text=True, check=False, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    figures = json.loads(out.read_text())
    assert figures["ratio"] > 0 and set(figures["runtimes"]) == {"1", "64"}
    assert "onnxruntime" in result.stdout and "zoo predict" in result.stdout
