"""Checkpoints and metrics files are validated when they are read: a malformed one is one line
that names the file and the bad key (exit 2), never a traceback from wherever it is first used."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from zoo.errors import ZooError
from zoo.runs.checkpoint import load_checkpoint
from zoo.runs.metrics import read_metrics

RECIPE = (
    'name = "r"\nmodel = "resnet8_v1"\n[data]\ndataset = "shapes"\ntrain_size = 16\nval_size = 8\n'
)
ROW = {"epoch": 1, "lr": 0.1, "train_loss": 2.3, "train_acc": 0.1, "val_loss": 2.3, "val_acc": 0.1}


def checkpoint(**changes: object) -> dict:
    """A structurally valid checkpoint (for inference), with ``changes`` applied."""
    state = {
        "format": 1,
        "model": {"head.fc.weight": torch.zeros(2, 2)},
        "epoch": 1,
        "recipe": RECIPE,
        "classes": ["a", "b"],
        "normalizer": {"mean": torch.zeros(3), "std": torch.ones(3)},
    }
    for key, value in changes.items():
        if value is ...:
            del state[key]
        elif key == "normalizer.std":
            state["normalizer"]["std"] = value
        else:
            state[key] = value
    return state


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"model": [1, 2]}, "model: Input should be a valid dictionary"),
        ({"model": {"w": "not a tensor"}}, "model.w: Input should be an instance of Tensor"),
        ({"normalizer.std": None}, "normalizer.std: Input should be an instance of Tensor"),
        ({"epoch": "one"}, "epoch: Input should be a valid integer (got 'one')"),
        ({"epoch": -1}, "epoch: Input should be greater than or equal to 0"),
        ({"classes": torch.arange(100)}, "classes: Input should be a valid list (got a Tensor)"),
        ({"recipe": ...}, "recipe: missing required key"),
        ({"format": 7}, "checkpoint format 7; this zoo reads 1"),
    ],
)
def test_a_malformed_checkpoint_is_one_line_naming_the_file(run_zoo, tmp_path, changes, message):
    path = tmp_path / "bad.pt"
    torch.save(checkpoint(**changes), path)
    result = run_zoo("eval", str(path))
    assert result.code == 2 and f"{path}: " in result.err and message in result.err
    assert result.err.count("\n") == 1 and "Traceback" not in result.err


def test_a_valid_checkpoint_passes_the_schema(tmp_path):
    path = tmp_path / "good.pt"
    torch.save(checkpoint(), path)
    assert load_checkpoint(path)["classes"] == ["a", "b"]
    with pytest.raises(ZooError, match="not a resumable checkpoint: optimizer: missing"):
        load_checkpoint(path, resume=True)


def test_resuming_a_last_pt_without_its_training_state_is_exit_2(run_zoo, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "recipe.toml").write_text(RECIPE + "[train]\nbatch_size = 8\n")
    torch.save(checkpoint(), run / "last.pt")
    result = run_zoo("train", "--resume", str(run))
    assert result.code == 2 and "last.pt: not a resumable checkpoint: optimizer" in result.err


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"epoch": "one"}', "epoch: Input should be a valid integer"),
        (json.dumps({**ROW, "val_loss": float("inf")}), "Infinity is not JSON (write null)"),
        (json.dumps({**ROW, "train_loss": float("nan")}), "NaN is not JSON"),
        (json.dumps({**ROW, "val_acc": 7}), "val_acc: Input should be less than or equal to 1"),
        ("[1, 2]", "Input should be a valid dictionary"),
        ("{not json", "Expecting property name"),
    ],
)
def test_plot_of_a_malformed_metrics_row_is_exit_2(run_zoo, tmp_path, line, message):
    (tmp_path / "metrics.jsonl").write_text(json.dumps(ROW) + "\n" + line + "\n")
    result = run_zoo("plot", str(tmp_path))
    assert result.code == 2 and "metrics.jsonl: line 2 is not a metrics row" in result.err
    assert message in result.err and result.err.count("\n") == 1


@settings(max_examples=50, deadline=None)
@given(
    rows=st.lists(
        st.fixed_dictionaries(
            {
                "epoch": st.integers(1, 10**6),
                "lr": st.floats(0, 10),
                "train_loss": st.none() | st.floats(0, 1e6),
                "train_acc": st.floats(0, 1),
                "val_loss": st.none() | st.floats(0, 1e6),
                "val_acc": st.none() | st.floats(0, 1),
            }
        ),
        max_size=5,
    )
)
def test_metrics_rows_round_trip_through_strict_json(tmp_path_factory, rows):
    folder: Path = tmp_path_factory.mktemp("run")
    (folder / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert read_metrics(folder) == rows


def test_a_diverged_validation_is_null_in_strict_json_and_never_best(
    run_zoo, tmp_path, monkeypatch
):
    import zoo.train.loop as loop

    real = loop.score
    calls = []

    def score(*args, **kwargs):
        loss, accuracy = real(*args, **kwargs)
        calls.append(1)
        return (float("inf"), 0.99) if len(calls) == 2 else (loss, accuracy)

    monkeypatch.setattr(loop, "score", score)
    recipe = tmp_path / "r.toml"
    recipe.write_text(RECIPE + "[train]\nepochs = 2\nbatch_size = 8\n")
    result = run_zoo("train", str(recipe), "--out", str(tmp_path / "run"), "--no-progress")
    assert result.code == 0, result.err
    lines = (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()
    second = json.loads(lines[1], parse_constant=lambda c: pytest.fail(f"{c} in metrics"))
    assert second["val_loss"] is None and second["diverged"] is True
    assert torch.load(tmp_path / "run" / "best.pt", weights_only=True)["epoch"] == 1
    assert "val_loss diverged" in result.err
    assert run_zoo("plot", str(tmp_path / "run")).code == 0


def test_a_lock_held_for_an_instant_does_not_turn_a_trainer_away(tmp_path):
    """``zoo runs`` probes a run's lock by taking it for an instant; a trainer starting then
    waits it out, and one held for longer is still reported as in use."""
    import fcntl
    import os
    import threading

    from zoo.runs.files import locked_run_dir

    run = tmp_path / "run"
    run.mkdir()
    probe = os.open(run, os.O_RDONLY)
    fcntl.flock(probe, fcntl.LOCK_SH)
    threading.Timer(0.1, fcntl.flock, (probe, fcntl.LOCK_UN)).start()
    with locked_run_dir(run):
        pass
    fcntl.flock(probe, fcntl.LOCK_SH)
    with pytest.raises(ZooError, match="in use by another zoo process"), locked_run_dir(run):
        pass
    os.close(probe)
