"""zoo train end to end on CIFAR-format files written by the test: run directory, checkpoints,
resume, eval, plot, determinism and bad input."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from zoo.recipe import load_recipe
from zoo.train.loop import train

METRIC_KEYS = {
    "epoch",
    "lr",
    "train_loss",
    "train_acc",
    "val_loss",
    "val_acc",
    "seconds",
    "images_per_sec",
}


def run_dir_files(path: Path) -> set[str]:
    return {p.name for p in path.iterdir()}


def test_a_run_writes_its_directory(run_zoo, tiny_recipe, cifar_root, tmp_path, train_tiny):
    out = tmp_path / "run"
    result = train_tiny()
    assert result.code == 0, result.err
    assert {"recipe.toml", "metrics.jsonl", "last.pt", "best.pt"} <= run_dir_files(out)
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [row["epoch"] for row in rows] == [1, 2] and all(
        row.keys() >= METRIC_KEYS for row in rows
    )
    state = torch.load(out / "last.pt", weights_only=True)
    assert state["epoch"] == 2 and "conv.weight" in "".join(state["model"])
    assert {"optimizer", "plateau", "rng", "metrics", "recipe"} <= state.keys()
    assert load_recipe(out / "recipe.toml").train.epochs == 2


def test_resume_continues_where_the_run_stopped(
    run_zoo, tiny_recipe, cifar_root, tmp_path, train_tiny, resume_tiny
):
    out = tmp_path / "run"
    assert train_tiny().code == 0
    again = resume_tiny()
    assert again.code == 2 and "already finished 2 epochs" in again.err
    longer = resume_tiny("--set", "train.epochs=3")
    assert longer.code == 0, longer.err
    rows = (out / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(row)["epoch"] for row in rows] == [1, 2, 3]


def test_two_deterministic_cpu_runs_give_identical_weights(tiny_recipe, cifar_root, tmp_path):
    recipe = load_recipe(tiny_recipe)
    train(recipe, tmp_path / "a", data_root=cifar_root, show_progress=False)
    train(recipe, tmp_path / "b", data_root=cifar_root, show_progress=False)
    a = torch.load(tmp_path / "a" / "last.pt", weights_only=True)["model"]
    b = torch.load(tmp_path / "b" / "last.pt", weights_only=True)["model"]
    assert all(torch.equal(a[key], b[key]) for key in a)


@pytest.mark.slow
def test_resume_after_kill_9_ends_with_the_same_weights(tmp_path, cifar_root):
    recipe = tmp_path / "slow.toml"
    recipe.write_text(
        'model = "resnet8_v1"\n[data]\ndataset = "shapes"\ntrain_size = 512\n'
        "val_size = 64\n[train]\nepochs = 6\nbatch_size = 32\ndeterministic = true\n"
    )
    uninterrupted = train(load_recipe(recipe), tmp_path / "whole", show_progress=False)
    assert len(uninterrupted.metrics) == 6

    killed = tmp_path / "killed"
    process = subprocess.Popen(
        [sys.executable, "-m", "zoo", "train", str(recipe), "--out", str(killed), "--no-progress"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not _epochs_done(killed):
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert 1 <= _epochs_done(killed) < 6, "the run should have been killed part-way"

    train(load_recipe(killed / "recipe.toml"), killed, resume=True, show_progress=False)
    a = torch.load(tmp_path / "whole" / "last.pt", weights_only=True)["model"]
    b = torch.load(killed / "last.pt", weights_only=True)["model"]
    assert all(torch.equal(a[key], b[key]) for key in a)


def _epochs_done(run_dir: Path) -> int:
    metrics = run_dir / "metrics.jsonl"
    return len(metrics.read_text().splitlines()) if metrics.exists() else 0


def test_eval_with_and_without_tta(run_zoo, tiny_recipe, cifar_root, tmp_path, train_tiny):
    out = tmp_path / "run"
    train_tiny()
    plain = run_zoo("eval", str(out / "best.pt"), "--data-dir", str(cifar_root))
    tta = run_zoo("eval", str(out / "best.pt"), "--data-dir", str(cifar_root), "--tta")
    assert plain.code == tta.code == 0
    assert "validation loss" in plain.out and "validation accuracy" in plain.out
    assert "with flip TTA" in tta.out
    by_run = run_zoo("eval", str(out), "--data-dir", str(cifar_root))  # the run's best.pt
    assert by_run.code == 0 and by_run.out == plain.out
    as_json = run_zoo("eval", str(out), "--data-dir", str(cifar_root), "--json", "--tta")
    figures = json.loads(as_json.out)
    assert as_json.code == 0 and figures["tta"] is True and 0 <= figures["accuracy"] <= 1
    assert figures["checkpoint"] == str(out / "best.pt") and figures["split"] == "validation"
    assert f"accuracy {figures['accuracy']:.2%}" in tta.out


def test_plot_writes_a_png_with_whole_epoch_ticks(
    run_zoo, tiny_recipe, cifar_root, tmp_path, train_tiny, monkeypatch
):
    from matplotlib.figure import Figure

    out = tmp_path / "run"
    train_tiny()  # two epochs: matplotlib's own ticks would be 1.0, 1.2, ..., 2.0
    ticks = []
    real = Figure.savefig

    def savefig(self, *args, **kwargs):
        ticks.extend(tick for axes in self.axes for tick in axes.get_xticks())
        return real(self, *args, **kwargs)

    monkeypatch.setattr(Figure, "savefig", savefig)
    assert run_zoo("plot", str(out)).code == 0
    assert (out / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert ticks and all(float(tick).is_integer() for tick in ticks)


def test_data_show_writes_the_seeds_grid(run_zoo, cifar_root, tmp_path):
    result = run_zoo(
        "data",
        "show",
        "cifar10",
        "--data-dir",
        str(cifar_root),
        "--out",
        str(tmp_path / "grid.png"),
    )
    assert result.code == 0 and (tmp_path / "grid.png").stat().st_size > 0


def test_a_checkpoint_with_pickled_code_is_refused(run_zoo, tmp_path):
    marker = tmp_path / "ran"
    torch.save({"model": {}, "payload": Exploit(str(marker))}, tmp_path / "evil.pt")
    result = run_zoo("eval", str(tmp_path / "evil.pt"))
    assert result.code == 2 and "refusing to load" in result.err
    assert not marker.exists()


class Exploit:
    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self):
        return (os.system, (f"touch {self.path}",))


def test_divergence_is_exit_1_with_a_clear_message(
    run_zoo, tiny_recipe, cifar_root, tmp_path, monkeypatch, train_tiny
):
    monkeypatch.setattr(
        "zoo.train.objective.F.cross_entropy",
        lambda *a, **k: torch.tensor(float("nan"), requires_grad=True),
    )
    result = train_tiny()
    assert result.code == 1 and "training diverged: the loss became nan in epoch 1" in result.err


def test_divergence_keeps_the_last_good_checkpoint(tiny_recipe, cifar_root, tmp_path, monkeypatch):
    from zoo.train.loop import TrainingDiverged

    out = tmp_path / "run"
    train(
        load_recipe(tiny_recipe, ["train.epochs=1"]), out, data_root=cifar_root, show_progress=False
    )
    good = torch.load(out / "last.pt", weights_only=True)
    real = torch.nn.functional.cross_entropy
    monkeypatch.setattr(
        "zoo.train.objective.F.cross_entropy", lambda *a, **k: real(*a, **k) * float("nan")
    )
    with pytest.raises(TrainingDiverged):
        train(
            load_recipe(out / "recipe.toml", ["train.epochs=2"]),
            out,
            data_root=cifar_root,
            resume=True,
            show_progress=False,
        )
    kept = torch.load(out / "last.pt", weights_only=True)
    assert kept["epoch"] == 1
    assert all(torch.equal(kept["model"][k], good["model"][k]) for k in good["model"])
    assert all(torch.isfinite(v.float()).all() for v in kept["model"].values())


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--set", "train.epoch=3"], "train.epoch: unknown key"),
        (["--set", "model.num_classes=5"], "the model has 5 classes but cifar10 has 10"),
        (["--data-dir", "/nonexistent/data"], "cifar-10"),
    ],
)
def test_bad_training_input_is_one_line_exit_2(
    run_zoo, tiny_recipe, cifar_root, tmp_path, extra, message
):
    args = ["train", str(tiny_recipe), "--out", str(tmp_path / "run")]
    if "--data-dir" not in extra:
        args += ["--data-dir", str(cifar_root)]
    result = run_zoo(*args, *extra)
    assert result.code == 2 and message in result.err
    assert result.err.count("\n") == 1 and "Traceback" not in result.err


def test_a_corrupt_batch_file_is_exit_2(run_zoo, tiny_recipe, cifar_root, tmp_path):
    batch = cifar_root / "cifar-10-batches-py" / "data_batch_3"
    batch.write_bytes(batch.read_bytes()[:100])
    result = run_zoo(
        "train", str(tiny_recipe), "--out", str(tmp_path / "r"), "--data-dir", str(cifar_root)
    )
    assert result.code == 2 and "data_batch_3" in result.err


def test_an_unwritable_output_directory_is_exit_2(run_zoo, tiny_recipe, cifar_root, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    result = run_zoo(
        "train", str(tiny_recipe), "--out", str(blocker / "run"), "--data-dir", str(cifar_root)
    )
    assert result.code == 2 and "cannot write the run directory" in result.err


def test_resume_without_a_checkpoint_is_exit_2(run_zoo, tmp_path):
    result = run_zoo("train", "--resume", str(tmp_path))
    assert result.code == 2 and "no last.pt to resume from" in result.err


def test_an_existing_run_is_never_overwritten(
    run_zoo, tiny_recipe, cifar_root, tmp_path, train_tiny
):
    out = tmp_path / "run"
    train_tiny()
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    result = train_tiny()
    assert result.code == 2 and "already holds recipe.toml, metrics.jsonl" in result.err
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_resume_with_more_epochs_extends_the_run_for_good(
    run_zoo, tiny_recipe, cifar_root, tmp_path, train_tiny, resume_tiny
):
    out = tmp_path / "run"
    train_tiny(
        "--set",
        "train.epochs=1",
    )
    assert resume_tiny("--set", "train.epochs=2").code == 0
    assert load_recipe(out / "recipe.toml").train.epochs == 2
    again = resume_tiny()
    assert again.code == 2 and "already finished 2 epochs" in again.err


def test_a_one_cycle_run_cannot_be_stretched(
    run_zoo, tiny_recipe, cifar_root, tmp_path, train_tiny, resume_tiny
):
    train_tiny(
        "--set",
        "train.epochs=1",
        "--set",
        "schedule.name=onecycle",
    )
    result = resume_tiny("--set", "train.epochs=2")
    assert result.code == 2 and "cannot be stretched from 1 to 2 epochs" in result.err


def test_the_logged_lr_is_the_schedules_even_after_a_plateau_reduction(
    tiny_recipe, cifar_root, tmp_path
):
    overrides = [
        "train.epochs=4",
        "schedule.name=steps",
        "schedule.milestones=[2]",
        "schedule.milestones_unit=epoch",
        "schedule.factors=[0.1]",
        "schedule.plateau={patience = 1, factor = 0.5}",
        "optim.lr=0.01",
    ]
    run = train(
        load_recipe(tiny_recipe, overrides), tmp_path / "run", data_root=cifar_root, quiet=True
    )
    assert [row["lr"] for row in run.metrics] == pytest.approx([0.01, 0.01, 0.001, 0.001])


def test_sync_batchnorm_on_cpu_fails_before_writing_anything(
    tiny_recipe, cifar_root, tmp_path, monkeypatch
):
    from zoo.errors import ZooError
    from zoo.train.runtime import distributed

    two = distributed.Distribution(rank=0, world_size=2)
    monkeypatch.setattr(distributed, "start", lambda device: two)
    recipe = load_recipe(tiny_recipe, ["train.sync_batchnorm=true"])
    with pytest.raises(ZooError, match="SyncBatchNorm works on CUDA GPUs only"):
        train(recipe, tmp_path / "run", data_root=cifar_root, quiet=True)
    assert not (tmp_path / "run").exists()


def test_resume_refuses_a_different_recipe(
    run_zoo, tiny_recipe, cifar_root, tmp_path, train_tiny, resume_tiny
):
    train_tiny(
        "--set",
        "train.epochs=1",
    )
    result = resume_tiny(
        "--set",
        "train.epochs=2",
        "--set",
        "model.preset=resnet14_v1",
        "--set",
        "train.batch_size=4",
    )
    assert result.code == 2
    assert "may change only train.epochs" in result.err
    assert "not model.preset, train.batch_size" in result.err


def test_a_directory_with_any_run_file_is_not_reused(
    run_zoo, tiny_recipe, cifar_root, tmp_path, train_tiny
):
    out = tmp_path / "run"
    out.mkdir()
    (out / "best.pt").write_bytes(b"someone's weights")
    result = train_tiny()
    assert result.code == 2 and "already holds best.pt" in result.err
    assert (out / "best.pt").read_bytes() == b"someone's weights"


def test_default_run_directories_never_collide(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    from zoo.runs.files import default_run_dir

    with ThreadPoolExecutor(8) as pool:  # all in the same second: each gets its own directory
        made = list(pool.map(lambda _: default_run_dir("r", tmp_path), range(16)))
    assert len(set(made)) == 16 and all(path.is_dir() for path in made)
    assert all(path.name.startswith(made[0].name.split("-2")[0]) for path in made)


def test_a_locked_run_directory_is_refused_and_untouched(run_zoo, tmp_path, train_tiny):
    from zoo.runs.files import locked_run_dir

    out = tmp_path / "run"
    with locked_run_dir(out):  # as another `zoo train --out run` would hold it
        result = train_tiny()
        assert result.code == 2 and "in use by another zoo process" in result.err
        assert list(out.iterdir()) == []
        resumed = run_zoo("train", "--resume", str(out))
        assert resumed.code == 2
    assert train_tiny("--set", "train.epochs=1").code == 0  # released when the holder is done


def test_the_lock_is_released_after_an_error_and_an_empty_new_directory_removed(tmp_path):
    from zoo.errors import ZooError
    from zoo.runs.files import locked_run_dir

    out = tmp_path / "new"
    with pytest.raises(ZooError), locked_run_dir(out):
        raise ZooError("bad data")
    assert not out.exists()
    with locked_run_dir(out):
        pass
    with locked_run_dir(out):  # the lock of the first block is gone
        pass
    assert out.is_dir()


def test_a_run_stopped_in_its_first_epoch_leaves_a_reusable_directory(tmp_path, train_tiny):
    out = tmp_path / "run"
    out.mkdir()
    (out / "recipe.toml").write_text("# written when a killed run started\n")
    result = train_tiny("--set", "train.epochs=1")
    assert result.code == 0, result.err
    assert (out / "last.pt").is_file() and "resnet8_v1" in (out / "recipe.toml").read_text()


@pytest.mark.parametrize("name", ["../../escaped", "/abs/path", "..", "a\\b", "tab\there"])
def test_a_run_name_that_is_a_path_is_refused(run_zoo, tiny_recipe, tmp_path, name, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run_zoo("train", str(tiny_recipe), "--set", f"name={name!r}")
    assert result.code == 2 and "name: a run name must be a plain file name" in result.err
    assert not (tmp_path / "runs").exists() and not (tmp_path.parent / "escaped").exists()


def test_a_network_that_cannot_take_the_images_fails_before_writing(run_zoo, cifar_root, tmp_path):
    recipe = tmp_path / "pools.toml"
    recipe.write_text(
        "[data]\ndownload = false\n"
        + "".join('[[model.stages]]\nblock = "max_pool"\nchannels = 3\n' for _ in range(6))
    )
    result = run_zoo(
        "train", str(recipe), "--out", str(tmp_path / "run"), "--data-dir", str(cifar_root)
    )
    assert result.code == 2 and "cannot take cifar10's images of shape 3×32×32" in result.err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"hello\n", "not a torch checkpoint"),
        (bytes(range(256)) * 4, "not a torch checkpoint"),
    ],
)
def test_eval_of_a_file_that_is_no_checkpoint_is_exit_2(run_zoo, tmp_path, content, message):
    path = tmp_path / "weights.pt"
    path.write_bytes(content)
    result = run_zoo("eval", str(path))
    assert result.code == 2 and message in result.err and result.err.count("\n") == 1


def test_data_show_of_an_unknown_data_set_is_exit_2(run_zoo):
    result = run_zoo("data", "show", "cifar11")
    assert result.code == 2 and "unknown dataset 'cifar11'; did you mean cifar10" in result.err
