"""DDP: two CPU processes on the gloo backend, launched by torchrun as a user would."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch


@pytest.mark.slow
def test_torchrun_two_processes_train_one_run(tiny_recipe, cifar_root, tmp_path):
    out = tmp_path / "ddp"
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node=2",
        "-m",
        "zoo",
        "train",
        str(tiny_recipe),
        "--out",
        str(out),
        "--data-dir",
        str(cifar_root),
        "--no-progress",
        "--set",
        "train.accumulate_steps=2",  # DDP's no_sync on the first micro-batch of each step
    ]  # (bench/cpu.py --ddp, tested in test_bench.py, trains without accumulation)
    env = os.environ | {"OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        command, capture_output=True, text=True, env=env, timeout=300, check=False
    )
    assert result.returncode == 0, result.stderr[-2000:]
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [row["epoch"] for row in rows] == [1, 2]  # one writer: rank 0
    assert result.stdout.count("best val_acc") == 1
    state = torch.load(out / "last.pt", weights_only=True)
    assert not any(key.startswith("module.") for key in state["model"])  # unwrapped weights
    assert sorted(p.name for p in out.iterdir()) == [
        "best.pt",
        "last.pt",
        "metrics.jsonl",
        "recipe.toml",
    ]
