"""What a checkpoint saves and a resume restores (zoo.train.state): a resumed run continues the
learning rate, the plateau's multiplier and each group's lr_scale exactly, also from checkpoints
written while the schedule and the plateau were torch's stateful schedulers."""

from __future__ import annotations

import pytest
import torch

import zoo.train.loop as loop
from zoo.recipe import load_recipe
from zoo.train.loop import train

LASTING_PLATEAU = [
    "schedule.name=constant",
    "schedule.plateau={patience = 1, factor = 0.5}",
    'optim.lr_scale={"stem" = 0.1}',
]


@pytest.fixture
def flat_validation(monkeypatch):
    """A validation loss that never improves, so the plateau reduces after epoch 3."""
    real = loop.score

    def score(*args, **kwargs):
        _, accuracy = real(*args, **kwargs)
        return 1.0, accuracy

    monkeypatch.setattr(loop, "score", score)


def weights(run_dir):
    return torch.load(run_dir / "last.pt", weights_only=True)["model"]


def old_layout(path):
    """Rewrite ``last.pt`` as zoo wrote it with torch's LambdaLR and ReduceLROnPlateau: no
    multiplier and no ``lr_scale``, the plateau's reduction applied to the groups' rates."""
    state = torch.load(path, weights_only=True)
    multiplier = state["plateau"].pop("multiplier")
    state["plateau"] |= {"factor": 0.5, "min_lrs": [0.5e-6] * 2, "eps": 1e-8, "last_epoch": 3}
    state["scheduler"] = None  # a constant rate without warm-up had none
    for group in state["optimizer"]["param_groups"]:
        group["lr"] = 0.05 * group.pop("lr_scale") * multiplier
    torch.save(state, path)


@pytest.mark.parametrize("layout", ["current", "before the closed-form schedule"])
def test_a_resumed_run_keeps_the_plateaus_reduction(
    layout, tiny_recipe, cifar_root, tmp_path, flat_validation
):
    whole = train(
        load_recipe(tiny_recipe, [*LASTING_PLATEAU, "train.epochs=4"]),
        tmp_path / "whole",
        data_root=cifar_root,
        quiet=True,
    )
    assert [row["lr"] for row in whole.metrics] == pytest.approx([0.05, 0.05, 0.05, 0.025])
    stopped = tmp_path / "stopped"
    train(
        load_recipe(tiny_recipe, [*LASTING_PLATEAU, "train.epochs=3"]),
        stopped,
        data_root=cifar_root,
        quiet=True,
    )
    if layout != "current":
        old_layout(stopped / "last.pt")
    resumed = train(
        load_recipe(stopped / "recipe.toml", ["train.epochs=4"]),
        stopped,
        data_root=cifar_root,
        resume=True,
        quiet=True,
    )
    assert [row["lr"] for row in resumed.metrics] == [row["lr"] for row in whole.metrics]
    a, b = weights(tmp_path / "whole"), weights(stopped)
    assert all(torch.equal(a[key], b[key]) for key in a)
    scaled = torch.load(stopped / "last.pt", weights_only=True)["optimizer"]["param_groups"]
    assert sorted(group["lr"] for group in scaled) == pytest.approx([0.0025, 0.025])
