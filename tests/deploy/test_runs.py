"""``zoo runs`` and ``zoo plot`` of several runs: run directories compared."""

from __future__ import annotations

import fcntl
import json
import os
import shutil

from zoo.runs.files import is_locked
from zoo.runs.table import wall_time


def test_runs_lists_finished_stopped_and_running_runs(run_zoo, shapes_run, tmp_path):
    folder = tmp_path / "runs"
    for name in ("a-finished", "b-stopped", "c-running"):
        shutil.copytree(shapes_run, folder / name)
    recipe = folder / "b-stopped" / "recipe.toml"
    recipe.write_text(recipe.read_text().replace("epochs = 1", "epochs = 4"))
    (folder / "not-a-run").mkdir()
    handle = os.open(folder / "c-running", os.O_RDONLY)  # what the trainer holds while it runs
    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    try:
        result = run_zoo("runs", str(folder), "--json")
        table = run_zoo("runs", str(folder))
    finally:
        os.close(handle)
    assert result.code == 0, result.err
    runs = json.loads(result.out)
    assert [run["name"] for run in runs] == ["a-finished", "b-stopped", "c-running"]
    assert [run["state"] for run in runs] == ["finished", "stopped", "running"]
    metrics = json.loads((shapes_run / "metrics.jsonl").read_text().splitlines()[0])
    first = runs[0]
    assert (first["network"], first["dataset"]) == ("resnet8_v1", "shapes")
    assert (first["epochs_done"], first["epochs_total"]) == (1, 1)
    assert first["best_val_acc"] == metrics["val_acc"]
    assert first["images_per_sec"] == metrics["images_per_sec"]
    assert runs[1]["epochs_total"] == 4
    for word in ("a-finished", "resnet8_v1", "shapes", "1/4", "images/s", "running", "stopped"):
        assert word in table.out
    assert not is_locked(folder / "c-running")  # released: the check itself holds nothing


def test_runs_of_a_missing_folder_is_exit_2(run_zoo, tmp_path):
    result = run_zoo("runs", str(tmp_path / "nothing"))
    assert result.code == 2 and "no such folder of runs" in result.err


def test_wall_time_reads_as_hours_minutes_seconds():
    assert [wall_time(s) for s in (42.4, 185, 7620)] == ["42s", "3m05s", "2h07m"]


def test_plot_overlays_several_runs(run_zoo, shapes_run, tmp_path):
    other = tmp_path / "other"
    shutil.copytree(shapes_run, other)
    out = tmp_path / "both.png"
    result = run_zoo("plot", str(shapes_run), str(other), "--out", str(out))
    assert result.code == 0, result.err
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


DAMAGED_METRICS = {
    "garbage": (b'{"epoch": 1}\n\x00\xff garbage\n', "cannot be read as text"),
    "a-list": (b"[1, 2, 3]\n", "line 1 is not a metrics row"),
    "nan": (b'{"epoch": 1, "val_acc": NaN}\n', "NaN is not JSON"),
    "huge": (None, "more than a million epochs' rows (256 MiB); not a zoo metrics file"),
}


def test_damaged_metrics_are_a_state_and_a_warning_in_runs_and_one_line_in_plot(
    run_zoo, shapes_run, tmp_path
):
    folder = tmp_path / "runs"
    for name, (content, _) in DAMAGED_METRICS.items():
        shutil.copytree(shapes_run, folder / name)
        metrics = folder / name / "metrics.jsonl"
        if content is None:
            metrics.write_bytes(b"")
            os.truncate(metrics, 3 * 2**30)  # sparse: 3 GiB that take no disk
        else:
            metrics.write_bytes(content)
    result = run_zoo("runs", str(folder), "--json")
    assert result.code == 0, result.err
    assert [run["state"] for run in json.loads(result.out)] == ["damaged"] * 4
    warnings = result.err.strip().splitlines()
    assert len(warnings) == 4 and all(line.startswith("zoo: warning: ") for line in warnings)
    for name, (_, message) in DAMAGED_METRICS.items():
        assert any(name in line and message in line for line in warnings), (name, warnings)
        plotted = run_zoo("plot", str(folder / name), "--out", str(tmp_path / f"{name}.png"))
        assert plotted.code == 2 and message in plotted.err
        assert len(plotted.err.strip().splitlines()) == 1
        assert not (tmp_path / f"{name}.png").exists()
