"""The README's main job: recipes/quickstart.toml learns the built-in shapes on a bare CPU."""

from __future__ import annotations

from pathlib import Path

import pytest

from zoo.recipe import load_recipe
from zoo.train.loop import train

QUICKSTART = Path(__file__).resolve().parents[2] / "recipes" / "quickstart.toml"


@pytest.mark.slow
def test_quickstart_reaches_90_percent(tmp_path):
    run = train(load_recipe(QUICKSTART), tmp_path / "run", quiet=True)
    assert run.best_val_acc >= 0.90
    assert len(run.metrics) == load_recipe(QUICKSTART).train.epochs
