"""Model EMA (``train.ema_decay``): validated beside the model, the better weights in best.pt,
checkpointed and resumed exactly, with timm's warm-up; off by default."""

from __future__ import annotations

import json

import pytest
import torch

from zoo.recipe import load_recipe
from zoo.train.loop import best_weights, model_ema, train

RECIPE = """
model = "resnet8_v1"
[data]
dataset = "shapes"
train_size = 48
val_size = 16
[schedule]
name = "constant"  # the same rates whether the run is told 1 epoch or 2
[train]
epochs = 2
batch_size = 16
deterministic = true
ema_decay = 0.9
"""


@pytest.mark.slow
def test_ema_is_validated_checkpointed_and_resumed_exactly(tmp_path, run_zoo):
    recipe = tmp_path / "ema.toml"
    recipe.write_text(RECIPE)
    whole = train(load_recipe(recipe), tmp_path / "whole", show_progress=False, quiet=True)
    assert all({"val_acc_ema", "val_loss_ema"} <= row.keys() for row in whole.metrics)
    once = tmp_path / "once"
    assert run_zoo("train", str(recipe), "--out", str(once), "--no-progress",
                   "--set", "train.epochs=1").code == 0  # fmt: skip
    resumed = run_zoo("train", "--resume", str(once), "--set", "train.epochs=2", "--no-progress")
    assert resumed.code == 0, resumed.err
    a = torch.load(tmp_path / "whole" / "last.pt", weights_only=True)
    b = torch.load(once / "last.pt", weights_only=True)
    assert a["ema"].keys() == b["ema"].keys()
    assert all(torch.equal(a["ema"][key], b["ema"][key]) for key in a["ema"])
    rows = [json.loads(line) for line in (once / "metrics.jsonl").read_text().splitlines()]
    assert [row["val_acc_ema"] for row in rows] == [row["val_acc_ema"] for row in whole.metrics]
    best = torch.load(tmp_path / "whole" / "best.pt", weights_only=True)
    assert best["weights"] in ("model", "ema")
    if best["weights"] == "ema":
        assert all(torch.equal(best["model"][key], best["ema"][key]) for key in best["ema"])


def test_the_better_weights_go_into_best_pt():
    saved = {"model": {"w": torch.zeros(1)}, "ema": {"w": torch.ones(1)}, "epoch": 3}
    assert torch.equal(best_weights(saved, "ema")["model"]["w"], torch.ones(1))
    assert best_weights(saved, "ema")["weights"] == "ema"
    assert best_weights(saved, "model")["model"] is saved["model"]
    no_ema = {"model": {}, "epoch": 1}
    assert best_weights(no_ema, "model") is no_ema  # without EMA nothing changes


def test_the_warm_up_starts_from_the_model_and_rises_to_the_decay():
    ema = model_ema(torch.nn.Linear(2, 2), 0.999)
    assert ema.get_decay(1) == 0.0  # the first update copies the model
    assert 0 < ema.get_decay(10) < ema.get_decay(100) < 0.999 == ema.get_decay(10**7)
    assert model_ema(torch.nn.Linear(2, 2), 0.0) is None


def test_no_recipe_turns_it_on(tmp_path):
    from pathlib import Path

    recipes = Path(__file__).resolve().parents[2] / "recipes"
    for path in recipes.glob("*.toml"):
        assert load_recipe(path).train.ema_decay == 0.0, path
    with pytest.raises(ValueError, match="ema_decay"):
        from zoo.recipe.training import TrainConfig

        TrainConfig(ema_decay=1.0)
