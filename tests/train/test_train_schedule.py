"""Optimiser parameter groups and learning-rate schedules: the seed's and the paper's, exactly."""

from __future__ import annotations

import math

import pytest
import torch
from pydantic import ValidationError

import zoo
from zoo.train.config import OptimConfig, ScheduleConfig
from zoo.train.optim import (
    lr_factor,
    make_optimizer,
    make_plateau,
    make_scheduler,
    parameter_groups,
)

SEED = ScheduleConfig(
    milestones=[81, 121, 161, 181], milestones_unit="epoch", factors=[1e-1, 1e-2, 1e-3, 0.5e-3]
)


def keras_lr_schedule(epoch: int) -> float:
    """The seed's lr_schedule, verbatim in meaning (0-based epochs)."""
    lr = 1e-3
    if epoch > 180:
        lr *= 0.5e-3
    elif epoch > 160:
        lr *= 1e-3
    elif epoch > 120:
        lr *= 1e-2
    elif epoch > 80:
        lr *= 1e-1
    return lr


def test_the_seeds_step_schedule_matches_its_keras_function():
    steps_per_epoch = 7
    factor = lr_factor(SEED, 1e-3, steps_per_epoch, 200 * steps_per_epoch)
    for epoch in range(200):
        for step in (epoch * steps_per_epoch, (epoch + 1) * steps_per_epoch - 1):
            assert 1e-3 * factor(step) == pytest.approx(keras_lr_schedule(epoch), rel=1e-12)


def test_the_papers_schedule_divides_by_ten_at_half_and_three_quarters():
    factor = lr_factor(ScheduleConfig(), 0.1, 10, 1000)
    assert [factor(s) for s in (0, 499, 500, 749, 750, 999)] == [1, 1, 0.1, 0.1, 0.01, 0.01]


def test_warmup_then_the_schedule():
    schedule = ScheduleConfig(warmup={"lr": 0.01, "steps": 400})
    factor = lr_factor(schedule, 0.1, 100, 10_000)
    assert 0.1 * factor(0) == pytest.approx(0.01) and 0.1 * factor(399) == pytest.approx(0.01)
    assert factor(400) == 1.0


def test_cosine_goes_from_one_to_the_floor():
    factor = lr_factor(ScheduleConfig(name="cosine", min_lr=0.001), 0.1, 10, 100)
    assert factor(0) == 1.0 and factor(100) == pytest.approx(0.01)
    assert factor(50) == pytest.approx(0.01 + 0.99 * 0.5)


def test_milestones_and_factors_must_pair_up():
    with pytest.raises(ValidationError, match="same length"):
        ScheduleConfig(milestones=[0.5], factors=[0.1, 0.01])


def test_a_plateau_reduction_is_overridden_by_the_schedule_as_in_keras():
    model = torch.nn.Linear(2, 2)
    config = OptimConfig(name="adam", lr=1e-3)
    optimizer = make_optimizer(model, config, torch.device("cpu"))
    schedule = ScheduleConfig(**SEED.model_dump(exclude={"plateau"}), plateau={"patience": 1})
    scheduler = make_scheduler(optimizer, schedule, 1e-3, 5, 200)
    plateau = make_plateau(optimizer, schedule)
    for _ in range(3):
        plateau.step(1.0)  # no improvement: reduces
    assert optimizer.param_groups[0]["lr"] < 1e-3
    optimizer.step()
    scheduler.step()
    assert optimizer.param_groups[0]["lr"] == pytest.approx(1e-3)


def test_a_plateau_with_a_constant_schedule_reduces_for_good():
    model = torch.nn.Linear(2, 2)
    optimizer = make_optimizer(model, OptimConfig(lr=0.1), torch.device("cpu"))
    schedule = ScheduleConfig(name="constant", plateau={"patience": 1, "factor": 0.5})
    assert make_scheduler(optimizer, schedule, 0.1, 5, 10) is None
    plateau = make_plateau(optimizer, schedule)
    for _ in range(3):
        plateau.step(1.0)
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.05)


@pytest.mark.parametrize(
    ("decay_on", "decayed"),
    [
        ("all", lambda name: True),
        ("weights", lambda name: name.endswith("weight") and "norm" not in name),
        ("conv", lambda name: name.endswith("conv.weight")),
    ],
)
def test_weight_decay_goes_where_decay_on_says(decay_on, decayed):
    model = zoo.build_model("resnet8_v1")
    groups = parameter_groups(model, OptimConfig(decay_on=decay_on, weight_decay=2e-4))
    names = {id(p): name for name, p in model.named_parameters()}
    chosen = {names[id(p)] for g in groups if g["weight_decay"] for p in g["params"]}
    assert chosen == {name for name in names.values() if decayed(name)}
    assert {g["weight_decay"] for g in groups} <= {2e-4, 0.0}
    if decay_on == "conv":
        assert "head.fc.weight" not in chosen  # the seed regularises conv kernels, not the Dense


def test_onecycle_is_torchs():
    model = torch.nn.Linear(2, 2)
    optimizer = make_optimizer(model, OptimConfig(lr=0.1), torch.device("cpu"))
    scheduler = make_scheduler(optimizer, ScheduleConfig(name="onecycle"), 0.1, 10, 10)
    assert type(scheduler).__name__ == "OneCycleLR"
    assert not math.isclose(optimizer.param_groups[0]["lr"], 0.1)


def test_onecycle_has_its_own_warmup():
    with pytest.raises(ValidationError, match="onecycle has its own warm-up"):
        ScheduleConfig(name="onecycle", warmup={"lr": 0.01, "steps": 10})
