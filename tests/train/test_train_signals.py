"""SIGINT and SIGTERM: a checkpoint of the current step, one line on how to resume, exit
128 + signal, and a resume that continues at that step, bit-identical to a run never stopped."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest
import torch

import zoo.train.loop as loop
from zoo.recipe import load_recipe
from zoo.train.loop import train

RECIPE = (
    'model = "resnet8_v1"\n[data]\ndataset = "shapes"\ntrain_size = 96\nval_size = 16\n'
    "[train]\nepochs = 2\nbatch_size = 16\ndeterministic = true\n"
)


@pytest.mark.parametrize(
    ("number", "at_step", "mixing"),
    [
        (signal.SIGTERM, 3, ""),
        (signal.SIGINT, 3, ""),
        (signal.SIGTERM, 6, ""),
        (signal.SIGTERM, 3, "mixup = 0.4\ncutmix = 1.0\n"),
    ],
)
def test_a_signal_mid_epoch_saves_that_step_and_resume_is_bit_identical(
    number, at_step, mixing, run_zoo, tmp_path, monkeypatch
):
    """Stopped after the third of the first epoch's six steps, or after its last one (before
    its validation, where the resumed process trains no step); with mixup and cutmix, whose
    draws come from NumPy's global generator."""
    recipe = tmp_path / "r.toml"
    recipe.write_text(RECIPE.replace("val_size = 16\n", "val_size = 16\n" + mixing))
    whole = train(load_recipe(recipe), tmp_path / "whole", show_progress=False, quiet=True)
    real, sent = loop.stopping, []

    def stopping(stop, steps_done, *args):
        if not sent and steps_done == at_step:
            sent.append(number)
            signal.raise_signal(number)
        return real(stop, steps_done, *args)

    monkeypatch.setattr(loop, "stopping", stopping)
    stopped = tmp_path / "stopped"
    result = run_zoo("train", str(recipe), "--out", str(stopped), "--no-progress")
    assert result.code == 128 + number
    name = signal.Signals(number).name
    assert f"stopped by {name} at epoch 1, step {at_step};" in result.err
    assert f"zoo train --resume {stopped}" in result.err
    state = torch.load(stopped / "last.pt", weights_only=True)
    assert (state["epoch"], state["step"]) == (0, at_step)

    monkeypatch.setattr(loop, "stopping", real)
    resumed = run_zoo("train", "--resume", str(stopped), "--no-progress")
    assert resumed.code == 0, resumed.err
    a = torch.load(tmp_path / "whole" / "last.pt", weights_only=True)
    b = torch.load(stopped / "last.pt", weights_only=True)
    assert all(torch.equal(a["model"][key], b["model"][key]) for key in a["model"])
    for row_a, row_b in zip(a["metrics"], b["metrics"], strict=True):
        for key in ("lr", "train_loss", "train_acc", "val_loss", "val_acc"):
            assert row_a[key] == row_b[key], key
    # the stopped epoch's rate spans both processes, even when resumed after its last step
    assert all(row["images_per_sec"] > 0 for row in b["metrics"])
    assert b["metrics"][0]["train_seconds"] >= state["epoch_seconds"] > 0
    assert "step" not in b and len(whole.metrics) == 2


@pytest.mark.slow
def test_sigterm_stops_a_real_run_within_seconds(tmp_path):
    recipe = tmp_path / "long.toml"
    recipe.write_text(RECIPE.replace("epochs = 2", "epochs = 50").replace("96", "960"))
    run = tmp_path / "run"
    process = subprocess.Popen(
        [sys.executable, "-m", "zoo", "train", str(recipe), "--out", str(run), "--no-progress"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not (run / "metrics.jsonl").exists():
        time.sleep(0.05)
    sent = time.monotonic()
    process.send_signal(signal.SIGTERM)
    _out, err = process.communicate(timeout=60)
    assert process.returncode == 143 and time.monotonic() - sent < 10
    assert "stopped by SIGTERM" in err and "Traceback" not in err
    assert torch.load(run / "last.pt", weights_only=True)["epoch"] >= 1
