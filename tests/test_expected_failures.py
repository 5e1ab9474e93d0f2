"""Expected failures are one line and an exit code, never a traceback: a closed pipe, an unknown
image ending, an unwritable folder, a failed torch.compile, batch norm on a batch of one, a
malformed CIFAR batch, a plugin that exits on import; and ``python -m zoo.cli`` works."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch
from cifar_files import PER_BATCH, make_tiny, py2_pickle, write_cifar10_python

REPO = Path(__file__).resolve().parents[1]
SHAPES = '[data]\ndataset = "shapes"\ntrain_size = 16\nval_size = 8\n'


@pytest.fixture
def tiny_cifar(tmp_path) -> Path:
    root = tmp_path / "data"
    write_cifar10_python(make_tiny(10, train=5 * PER_BATCH, test=8), root)
    return root


def one_line(result) -> bool:
    return result.err.count("\n") == 1 and "Traceback" not in result.err


def test_a_closed_pipe_and_python_m_zoo_cli(tmp_path):
    """The reader of ``zoo … | head`` goes away: exit 141 (128 + SIGPIPE) and nothing on stderr.
    It runs as ``python -m zoo.cli``, which the import cycle of zoo.cli broke."""
    process = subprocess.Popen(
        [sys.executable, "-m", "zoo.cli", "recipe", "show", str(REPO / "recipes/quickstart.toml")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
    )
    process.stdout.close()  # before it writes: its first write finds no reader
    assert process.wait(timeout=120) == 141
    assert process.stderr.read() == b""


@pytest.mark.parametrize("command", ["plot", "data show"])
def test_an_unknown_image_ending_is_exit_2(run_zoo, tmp_path, tiny_cifar, command):
    (tmp_path / "metrics.jsonl").write_text(
        '{"epoch": 1, "lr": 0.1, "train_loss": 1.0, "train_acc": 0.5, "val_loss": 1.0, '
        '"val_acc": 0.5}\n'
    )
    show = ["data", "show", "cifar10", "--data-dir", str(tiny_cifar)]
    args = ["plot", str(tmp_path)] if command == "plot" else show
    result = run_zoo(*args, "--out", str(tmp_path / "curves.xyz"))
    assert result.code == 2 and one_line(result)
    assert f"--out {tmp_path / 'curves.xyz'}: " in result.err and ".png" in result.err


def test_data_show_writes_a_labelled_grid_into_the_data_folder(
    run_zoo, tmp_path, tiny_cifar, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    result = run_zoo("data", "show", "cifar10")  # --data-dir data: the folder git ignores
    assert result.code == 0 and sorted(tmp_path.iterdir()) == [tiny_cifar]
    from PIL import Image

    grid = Image.open(tiny_cifar / "cifar10-examples.png")
    assert grid.width > 10 * 34  # ten images a row, plus the margin with the class names
    margin = torch.tensor(list(grid.convert("L").crop((0, 0, 20, 34)).getdata()))
    assert (margin < 128).any()  # the first row's name is written there


def test_an_unwritable_output_or_run_is_exit_2(run_zoo, tmp_path, tiny_cifar, monkeypatch):
    import tempfile

    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    show = ["data", "show", "cifar10", "--data-dir", str(tiny_cifar)]
    result = run_zoo(*show, "--out", str(blocker / "grid.png"))
    assert result.code == 2 and "cannot write" in result.err and one_line(result)

    run = tmp_path / "run"
    run.mkdir()

    def read_only(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "NamedTemporaryFile", read_only)  # root ignores chmod
    (run / "recipe.toml").write_text('model = "resnet8_v1"\n' + SHAPES)
    torch.save({}, run / "last.pt")
    result = run_zoo("train", "--resume", str(run))
    assert result.code == 2 and "cannot write the run directory" in result.err
    assert "Permission denied" in result.err and one_line(result)


def test_a_failing_torch_compile_says_what_to_do(run_zoo, tmp_path, monkeypatch):
    from torch._dynamo.exc import BackendCompilerFailed

    class Uncompiled(torch.nn.Module):
        def forward(self, *args):
            error = RuntimeError("InvalidCxxCompiler: No working C++ compiler found")
            raise BackendCompilerFailed("inductor", error, None)

    def compile_without_a_compiler(network, **options):
        return Uncompiled()

    monkeypatch.setattr("zoo.train.loop.torch.compile", compile_without_a_compiler)
    recipe = tmp_path / "c.toml"
    recipe.write_text(
        'model = "resnet8_v1"\n' + SHAPES + "[train]\ncompile = true\nbatch_size = 8\n"
    )
    result = run_zoo("train", str(recipe), "--out", str(tmp_path / "run"))
    assert result.code == 2 and "Traceback" not in result.err
    assert result.err.splitlines()[-1].startswith("zoo: error: ")  # after the run's first line
    assert "train.compile: torch.compile failed (InvalidCxxCompiler: No working C++" in result.err
    assert "set train.compile = false" in result.err


@pytest.mark.parametrize(("train_size", "batch_size"), [(16, 1)])
def test_batch_norm_on_a_batch_of_one_is_exit_2(run_zoo, tmp_path, train_size, batch_size):
    """Training batches are all full (drop_last), so only batch_size = 1 makes a batch of one."""
    recipe = tmp_path / "tiny.toml"
    # the shapes set is 32×32; 1×1 images come from a stem that pools everything away
    recipe.write_text(
        '[[model.stages]]\nblock = "max_pool"\nchannels = 3\nstride = 32\n'
        '[[model.stages]]\nblock = "conv_bn_relu"\nchannels = 8\n'
        f'[data]\ndataset = "shapes"\ntrain_size = {train_size}\nval_size = 8\n'
        f"[train]\nbatch_size = {batch_size}\n"
    )
    result = run_zoo("train", str(recipe), "--out", str(tmp_path / "run"))
    assert result.code == 2 and one_line(result), result.err
    assert "batch norm cannot train on a batch of one" in result.err


@pytest.mark.parametrize("labels", [[[0]] * PER_BATCH, 3, [[0, 1]] * PER_BATCH])
def test_cifar_labels_of_the_wrong_rank_are_exit_2(run_zoo, tmp_path, labels):
    root = tmp_path / "data"
    folder = write_cifar10_python(make_tiny(10, train=5 * PER_BATCH, test=8), root)
    rows = torch.zeros(PER_BATCH, 3072, dtype=torch.uint8).numpy()
    py2_pickle({b"labels": labels, b"data": rows}, folder / "data_batch_2")
    recipe = tmp_path / "r.toml"
    recipe.write_text('model = "resnet8_v1"\n[data]\ndownload = false\n')
    result = run_zoo("train", str(recipe), "--data-dir", str(root), "--out", str(tmp_path / "o"))
    assert result.code == 2 and one_line(result) and "data_batch_2" in result.err


def test_a_plugin_that_exits_on_import_is_a_broken_plugin(tmp_path, monkeypatch):
    from zoo.registry import Registry

    info = tmp_path / "exiting_plugin-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: exiting-plugin\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[zoo.test_exit]\nquitter = exiting_plugin:factory\n")
    (tmp_path / "exiting_plugin.py").write_text("import sys\nsys.exit(3)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    registry: Registry = Registry("block", group="zoo.test_exit")
    with pytest.warns(UserWarning, match="exiting-plugin failed to load its block 'quitter'"):
        assert registry.names() == []
    assert [entry.name for entry in registry.broken()] == ["quitter"]
    assert "SystemExit: 3" in registry.broken()[0].error
