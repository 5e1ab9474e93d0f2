"""Fine-tuning on a user's folder: the shipped recipe, frozen modules, scaled learning rates, and
a folder of mixed images training as well as its fixed-size twin."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
import torchvision

import zoo
from zoo.errors import ZooError
from zoo.recipe import load_recipe
from zoo.train.optim import parameter_groups
from zoo.train.tensorboard import writer

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "data"))
from test_data_folders import make_folder

RECIPES = Path(__file__).resolve().parents[2] / "recipes"


@pytest.fixture
def folder(tmp_path) -> Path:
    return make_folder(tmp_path / "photos", per_class=6, mixed=True, val=2)


def test_the_finetune_recipe_runs_end_to_end_with_a_local_weights_file(run_zoo, folder, tmp_path):
    weights = tmp_path / "resnet18.pth"
    torch.save(torchvision.models.resnet18().state_dict(), weights)
    run = tmp_path / "run"
    result = run_zoo(
        "train", str(RECIPES / "finetune_resnet18.toml"), "--out", str(run), "--no-progress",
        "--set", f'model.weights="{weights}"', "--set", f'data.root="{folder}"',
        "--set", "data.image_size=32", "--set", "train.epochs=1", "--set", "train.batch_size=4",
        "--set", "data.workers=0",
    )  # fmt: skip
    assert result.code == 0, result.err
    assert "1000 classes and the network 2" in result.err  # a fresh head.fc, said once
    state = torch.load(run / "last.pt", weights_only=True)
    start = zoo.build_model("resnet18", weights=weights, num_classes=2).state_dict()
    for key in ("stem.conv.weight", "stem.norm.running_mean", "stem.norm.weight"):
        assert torch.equal(state["model"][key], start[key]), key  # frozen, BN in eval mode
    assert not torch.equal(state["model"]["stages.3.1.conv2.weight"],
                           start["stages.3.1.conv2.weight"])  # fmt: skip
    assert state["image_size"] == [32, 32] and state["classes"] == ["blue", "red"]
    torch.testing.assert_close(
        state["normalizer"]["mean"].flatten(), torch.tensor([0.485, 0.456, 0.406])
    )  # ImageNet's, as the weights expect
    predicted = run_zoo("predict", str(run / "last.pt"), str(folder / "val"), "--json")
    assert predicted.code == 0 and predicted.out.count('"image"') == 4


def test_freeze_patterns_that_match_nothing_are_refused_before_anything_is_written(
    run_zoo, folder, tmp_path
):
    recipe = tmp_path / "r.toml"
    recipe.write_text(
        f'[model]\npreset = "resnet8_v1"\nnum_classes = 2\n'
        f'[data]\ndataset = "imagefolder"\nroot = "{folder}"\n'
        'image_size = 16\nworkers = 0\n[train]\nbatch_size = 4\nfreeze = ["stems"]\n'
    )
    result = run_zoo("train", str(recipe), "--out", str(tmp_path / "run"))
    assert result.code == 2 and "train.freeze: 'stems' matches no module" in result.err
    assert "stem, stages, head" in result.err and not (tmp_path / "run").exists()
    recipe.write_text(recipe.read_text().replace('["stems"]', '["stem", "stages", "head"]'))
    result = run_zoo("train", str(recipe), "--out", str(tmp_path / "run"))
    assert result.code == 2 and "freezes every parameter, so nothing is left to train" in result.err
    assert len(result.err.strip().splitlines()) == 1 and not (tmp_path / "run").exists()


def test_lr_scale_gives_each_module_its_rate():
    recipe_model = zoo.build_model("resnet8_v1")
    optim = load_recipe_text('model = "resnet8_v1"\n[optim]\nlr = 0.1\n'
                             'lr_scale = { "stem" = 0.5, "stages.*" = 0.1 }\n').optim  # fmt: skip
    groups = parameter_groups(recipe_model, optim)
    rate = {id(p): group["lr"] for group in groups for p in group["params"]}
    assert rate[id(recipe_model.stem.conv.weight)] == pytest.approx(0.05)
    assert rate[id(recipe_model.stages[1][0].conv1.weight)] == pytest.approx(0.01)
    assert rate[id(recipe_model.head.fc.weight)] == pytest.approx(0.1)


def load_recipe_text(text: str):
    import tempfile

    with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as file:
        file.write(text)
    return load_recipe(file.name)


def test_a_mixed_folder_trains_as_well_as_its_fixed_size_twin(run_zoo, tmp_path):
    """The twin holds the same pictures in the same modes and formats, all at 16×16."""
    accuracies = {}
    for mixed in (True, False):
        root = make_folder(tmp_path / f"m{mixed}", per_class=24, mixed=True, val=8, sizes=mixed)
        recipe = tmp_path / f"m{mixed}.toml"
        recipe.write_text(
            '[model]\npreset = "resnet8_v1_paper"\nnum_classes = 2\n'
            f'[data]\ndataset = "imagefolder"\nroot = "{root}"\nimage_size = 16\nworkers = 0\n'
            '[optim]\nname = "adam"\nlr = 0.003\n[train]\nepochs = 6\nbatch_size = 8\nseed = 1\n'
        )
        result = run_zoo("train", str(recipe), "--out", str(tmp_path / f"run{mixed}"),
                         "--no-progress")  # fmt: skip
        assert result.code == 0, result.err
        state = torch.load(tmp_path / f"run{mixed}" / "last.pt", weights_only=True)
        accuracies[mixed] = state["best_val_acc"]
    assert accuracies[False] >= 0.85 and accuracies[True] >= accuracies[False] - 0.1, accuracies


def test_mixup_and_cutmix_train_with_soft_targets(run_zoo, folder, tmp_path, monkeypatch):
    import zoo.train.loop as loop

    seen = []
    real = loop.Objective.forward

    def forward(self, images, labels):
        seen.append(labels.is_floating_point() if self.training else None)
        return real(self, images, labels)

    monkeypatch.setattr(loop.Objective, "forward", forward)
    recipe = tmp_path / "mix.toml"
    body = (
        f'[model]\npreset = "resnet8_v1_paper"\nnum_classes = 2\n[data]\ndataset = "imagefolder"'
        f'\nroot = "{folder}"\nimage_size = 16\nworkers = 0\nmixup = 0.2\ncutmix = 1.0\n'
        "[train]\nepochs = 1\nlabel_smoothing = 0.1\nbatch_size = "
    )
    recipe.write_text(body + "4\n")
    result = run_zoo("train", str(recipe), "--out", str(tmp_path / "run"), "--no-progress")
    assert result.code == 0, result.err
    assert True in seen and False not in seen  # every training batch was mixed
    recipe.write_text(body + "3\n")
    result = run_zoo("train", str(recipe), "--out", str(tmp_path / "odd"))
    assert result.code == 2 and "train.batch_size must be even, not 3" in result.err
    (folder / "train" / "red" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage")
    seen.clear()
    streamed = body.replace("workers = 0", "workers = 0\nin_memory = false\nskip_bad_images = true")
    recipe.write_text(streamed + "4\n")
    result = run_zoo("train", str(recipe), "--out", str(tmp_path / "bad"), "--no-progress")
    assert result.code == 0, result.err  # the batch that lost the broken file is odd: unmixed
    assert seen.count(False) == 1 and True in seen


def test_tensorboard_gets_each_epochs_metrics(run_zoo, folder, tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    recipe = tmp_path / "tb.toml"
    recipe.write_text(
        f'[model]\npreset = "resnet8_v1_paper"\nnum_classes = 2\n[data]\ndataset = "imagefolder"'
        f'\nroot = "{folder}"\nimage_size = 16\nworkers = 0\n'
        "[train]\nepochs = 2\nbatch_size = 4\ntensorboard = true\n"
    )
    result = run_zoo("train", str(recipe), "--out", str(tmp_path / "run"), "--no-progress")
    assert result.code == 0, result.err
    events = EventAccumulator(str(tmp_path / "run"))
    events.Reload()
    assert [event.step for event in events.Scalars("val_acc")] == [1, 2]


def test_the_tensorboard_writer_is_closed_when_training_ends_or_fails(
    run_zoo, folder, tmp_path, monkeypatch
):
    """Its event file's handle and writer thread end with the run, on an error as well."""
    pytest.importorskip("tensorboard")
    from zoo.train import loop

    boards = []
    monkeypatch.setattr(
        loop, "writer", lambda run_dir: boards.append(writer(run_dir)) or boards[-1]
    )
    recipe = tmp_path / "tb.toml"
    recipe.write_text(
        f'[model]\npreset = "resnet8_v1_paper"\nnum_classes = 2\n[data]\ndataset = "imagefolder"'
        f'\nroot = "{folder}"\nimage_size = 16\nworkers = 0\n'
        "[train]\nepochs = 1\nbatch_size = 4\ntensorboard = true\n"
    )
    assert run_zoo("train", str(recipe), "--out", str(tmp_path / "a"), "--no-progress").code == 0

    def broken(board, row):
        raise ZooError("the disk went away")

    monkeypatch.setattr(loop, "log_epoch", broken)
    assert run_zoo("train", str(recipe), "--out", str(tmp_path / "b"), "--no-progress").code == 2
    assert len(boards) == 2 and all(board.all_writers is None for board in boards)  # closed


def test_a_wrong_weights_path_fails_before_the_data_is_read(run_zoo, tmp_path):
    """Fine-tuning reads a folder that can take minutes to decode: a wrong weights source is
    reported first (here the data does not exist either, and is never reached)."""
    recipe = tmp_path / "r.toml"
    recipe.write_text(
        '[model]\npreset = "resnet18"\nweights = "no/such/weights.pth"\nnum_classes = 2\n'
        f'[data]\ndataset = "imagefolder"\nroot = "{tmp_path / "missing"}"\nimage_size = 64\n'
    )
    result = run_zoo("train", str(recipe), "--out", str(tmp_path / "run"))
    assert result.code == 2 and "no/such/weights.pth: no such weights file" in result.err
    assert not (tmp_path / "run").exists()
