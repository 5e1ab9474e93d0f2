"""Optimiser parameter groups and learning-rate schedules: the seed's and the paper's, exactly."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

import zoo
from zoo.recipe.training import OptimConfig, ScheduleConfig
from zoo.train.optim import make_optimizer, parameter_groups
from zoo.train.schedule import Plateau, learning_rate, one_cycle

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
    lr_at = learning_rate(SEED, 1e-3, steps_per_epoch, 200)
    for epoch in range(200):
        for step in (epoch * steps_per_epoch, (epoch + 1) * steps_per_epoch - 1):
            assert lr_at(step) == pytest.approx(keras_lr_schedule(epoch), rel=1e-12)


def test_the_papers_schedule_divides_by_ten_at_half_and_three_quarters():
    lr_at = learning_rate(ScheduleConfig(), 0.1, 10, 100)
    rates = [lr_at(s) for s in (0, 499, 500, 749, 750, 999)]
    assert rates == pytest.approx([0.1, 0.1, 0.01, 0.01, 0.001, 0.001], rel=1e-12)


def test_warmup_then_the_schedule():
    schedule = ScheduleConfig(warmup={"lr": 0.01, "steps": 400})
    lr_at = learning_rate(schedule, 0.1, 100, 100)
    assert lr_at(0) == 0.01 and lr_at(399) == 0.01
    assert lr_at(400) == 0.1


def test_cosine_goes_from_one_to_the_floor():
    lr_at = learning_rate(ScheduleConfig(name="cosine", min_lr=0.001), 0.1, 10, 10)
    assert lr_at(0) == 0.1 and lr_at(100) == pytest.approx(0.001)
    assert lr_at(50) == pytest.approx(0.001 + 0.099 * 0.5)


def test_cosine_is_torchs_cosine_annealing():
    lr_at = learning_rate(ScheduleConfig(name="cosine", min_lr=0.001), 0.1, 10, 5)
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    torchs = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=50, eta_min=0.001)
    for step in range(50):
        assert lr_at(step) == pytest.approx(torchs.get_last_lr()[0], rel=1e-9), step
        optimizer.step()
        torchs.step()


def test_milestones_and_factors_must_pair_up():
    with pytest.raises(ValidationError, match="same length"):
        ScheduleConfig(milestones=[0.5], factors=[0.1, 0.01])


def test_a_plateau_reduction_is_overridden_by_the_schedule_as_in_keras():
    schedule = ScheduleConfig(**SEED.model_dump(exclude={"plateau"}), plateau={"patience": 1})
    plateau = Plateau.of(schedule, 1e-3)
    for _ in range(3):
        plateau.end_epoch(1.0)  # no improvement after the first: reduces
    assert plateau.multiplier == pytest.approx(0.31622776601683794)
    plateau.start_epoch()  # Keras' LearningRateScheduler sets the schedule's rate again
    assert plateau.multiplier == 1.0


def test_a_plateau_with_a_constant_schedule_reduces_for_good():
    schedule = ScheduleConfig(name="constant", plateau={"patience": 1, "factor": 0.5})
    plateau = Plateau.of(schedule, 0.1)
    for _ in range(3):
        plateau.end_epoch(1.0)
    plateau.start_epoch()
    assert 0.1 * plateau.multiplier == pytest.approx(0.05)


@settings(max_examples=60, deadline=None)
@given(
    losses=st.lists(st.floats(0.0, 3.0) | st.just(math.nan) | st.just(math.inf), max_size=40),
    patience=st.integers(1, 4),
    factor=st.floats(0.05, 0.95),
    min_lr=st.sampled_from([0.0, 1e-3, 0.02]),
    scale=st.sampled_from([0.1, 1.0, 3.0]),
)
def test_the_plateau_gives_each_group_the_rate_of_torchs_reduce_lr_on_plateau(
    losses, patience, factor, min_lr, scale
):
    """At a constant rate, every parameter group (one with lr_scale) gets the rate torch's
    ReduceLROnPlateau would set it to, floor included — up to torch's rule of skipping a
    reduction smaller than 1e-8."""
    config = ScheduleConfig(
        name="constant", plateau={"patience": patience, "factor": factor, "min_lr": min_lr}
    )
    plateau = Plateau.of(config, 0.1)
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 2))
    ours = make_optimizer(model, OptimConfig(lr=0.1, lr_scale={"1": scale}), torch.device("cpu"))
    theirs = torch.optim.SGD(
        [
            {"params": [torch.zeros(1, requires_grad=True)], "lr": group["lr"]}
            for group in ours.param_groups
        ]
    )
    torchs = torch.optim.lr_scheduler.ReduceLROnPlateau(
        theirs, factor=factor, patience=patience, min_lr=min_lr
    )
    for loss in losses:
        plateau.start_epoch()
        plateau.end_epoch(loss)
        torchs.step(loss)
        plateau.set_rates(ours, 0.1)
        for mine, torch_group in zip(ours.param_groups, theirs.param_groups, strict=True):
            assert mine["lr"] == pytest.approx(torch_group["lr"], abs=1e-8 / (1 - factor))
        assert plateau.num_bad_epochs == torchs.num_bad_epochs


def test_a_plateau_state_of_torchs_scheduler_is_read():
    """Checkpoints written while the plateau was torch's ReduceLROnPlateau hold no multiplier:
    at a constant rate the saved rate gives it, under a schedule it is 1."""
    lasting = Plateau.of(ScheduleConfig(name="constant", plateau={}), 0.1)
    lasting.load_state_dict({"best": 0.5, "num_bad_epochs": 2, "min_lrs": [0.0]}, 0.025)
    assert (lasting.best, lasting.num_bad_epochs, lasting.multiplier) == (0.5, 2, 0.25)
    overridden = Plateau.of(ScheduleConfig(plateau={}), 0.1)
    overridden.load_state_dict({"best": 0.5, "num_bad_epochs": 2}, 0.01)
    assert overridden.multiplier == 1.0


def test_each_group_gets_the_schedules_rate_times_its_scale():
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 2))
    config = OptimConfig(lr=0.1, lr_scale={"0": 0.1})
    optimizer = make_optimizer(model, config, torch.device("cpu"))
    Plateau.of(ScheduleConfig(), 0.1).set_rates(optimizer, 0.5)
    assert sorted(group["lr"] for group in optimizer.param_groups) == pytest.approx([0.05, 0.5])


LINEAR_OR_CONV = (torch.nn.Linear, torch.nn.Conv2d)


@pytest.mark.parametrize(
    ("decay_on", "decayed"),
    [
        ("all", lambda module, kind: True),
        ("weights", lambda module, kind: kind == "weight" and isinstance(module, LINEAR_OR_CONV)),
        ("conv", lambda module, kind: kind == "weight" and isinstance(module, torch.nn.Conv2d)),
    ],
)
def test_weight_decay_goes_where_decay_on_says(decay_on, decayed):
    """Decay is chosen by what a parameter is (a conv kernel, a Linear weight, a BN scale), never
    by its name: the same holds for blocks whose layers are called conv1, bn1 or shortcut."""
    model = zoo.build_model("resnet8_v1")
    groups = parameter_groups(model, OptimConfig(decay_on=decay_on, weight_decay=2e-4))
    names = {id(p): name for name, p in model.named_parameters()}
    chosen = {names[id(p)] for g in groups if g["weight_decay"] for p in g["params"]}
    modules = dict(model.named_modules())
    expected = set()
    for name in names.values():
        owner, _, kind = name.rpartition(".")
        if decayed(modules[owner], kind):
            expected.add(name)
    assert chosen == expected
    assert {g["weight_decay"] for g in groups} <= {2e-4, 0.0}
    if decay_on == "conv":
        assert "head.fc.weight" not in chosen  # the seed regularises conv kernels, not the Dense
        assert any(".bn1." in name for name in names.values())
        assert not any(".bn1." in name for name in chosen)


@pytest.mark.parametrize("total", [1, 2, 3, 4, 7, 10, 391 * 30])
def test_onecycle_is_torchs_at_every_step(total):
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    torchs = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=0.1, total_steps=total, cycle_momentum=False
    )
    lr_at = learning_rate(ScheduleConfig(name="onecycle"), 0.1, total, 1)
    for step in range(total):
        assert lr_at(step) == pytest.approx(torchs.get_last_lr()[0], rel=1e-12, abs=1e-18), step
        optimizer.step()
        torchs.step()
    assert one_cycle(total - 1, total, 0.1) == pytest.approx(0.1 / 25 / 1e4)


def test_onecycle_has_its_own_warmup():
    with pytest.raises(ValidationError, match="onecycle has its own warm-up"):
        ScheduleConfig(name="onecycle", warmup={"lr": 0.01, "steps": 10})
