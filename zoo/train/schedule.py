"""The learning rate: one closed-form function of the optimiser step, and the plateau as a
multiplier on it.

The rate at global step ``t`` (0-based, counted over the whole run) is

    lr(t) = lr_at(t) × plateau.multiplier   (× each parameter group's ``optim.lr_scale``)

``lr_at`` is the schedule of ``[schedule]`` in closed form: a function of ``t`` alone, so a
resumed run (even one stopped mid-epoch) continues exactly, and an extended one (``--set
train.epochs``) follows the schedule as the recipe now defines it. Torch's stateful schedulers
cannot express the seed's steps — its factors are multipliers of the base rate (×1e-1, ×1e-2,
×1e-3, then ×0.5e-3), not one constant gamma — and a closed form needs no state in the checkpoint.

The plateau is Keras' and torch's ``ReduceLROnPlateau`` on the validation loss as a multiplier
(:class:`Plateau`), floored at its ``min_lr`` group by group. The seed combines it with
``LearningRateScheduler``, which sets the rate anew at the start of every epoch, so in Keras a
reduction made at an epoch's end is overridden before any batch is trained with it. zoo does the
same: with a schedule (anything but ``constant`` without warm-up) the multiplier returns to 1 at
each epoch's start; with a constant rate nothing overrides it and reductions last, as plain
``ReduceLROnPlateau`` training does.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from zoo.recipe.training import PlateauConfig, ScheduleConfig

ONECYCLE_PEAK_AT = 0.3
"""torch's ``OneCycleLR`` defaults, which zoo's one-cycle schedule follows: the peak after 30% of
the steps, a start at ``lr / 25`` and an end at ``lr / 25 / 1e4``."""
ONECYCLE_DIV = 25.0
ONECYCLE_FINAL_DIV = 1e4

PLATEAU_THRESHOLD = 1e-4
"""torch's ``ReduceLROnPlateau`` default (mode ``min``, relative threshold): a loss improves on
the best when it is below ``best × (1 − 1e-4)``. (torch also skips a reduction smaller than
1e-8; zoo does not, which changes no rate by more than that.)"""


def learning_rate(
    schedule: ScheduleConfig, base_lr: float, steps_per_epoch: int, epochs: int
) -> Callable[[int], float]:
    """``lr_at(step)``: the schedule's learning rate at each optimiser step (0-based) of a run of
    ``epochs`` epochs of ``steps_per_epoch`` steps, before the plateau's multiplier."""
    total = steps_per_epoch * epochs
    milestones = [
        round(m * total) if schedule.milestones_unit == "fraction" else round(m * steps_per_epoch)
        for m in schedule.milestones
    ]
    warmup = schedule.warmup

    def lr_at(step: int) -> float:
        if warmup is not None and step < warmup.steps:
            return warmup.lr  # He et al. 2015, §4.2: ResNet-110 starts at 0.01
        if schedule.name == "steps":  # the seed's lr_schedule; the paper's ÷10 at 32k and 48k
            passed = [f for m, f in zip(milestones, schedule.factors, strict=False) if step >= m]
            return base_lr * passed[-1] if passed else base_lr
        if schedule.name == "cosine":  # SGDR (Loshchilov & Hutter 2017) without restarts
            progress = min(step / max(total, 1), 1.0)
            return schedule.min_lr + (base_lr - schedule.min_lr) * 0.5 * (
                1 + math.cos(math.pi * progress)
            )
        if schedule.name == "onecycle":  # Smith & Topin 2019, as torch's OneCycleLR computes it
            return one_cycle(step, total, base_lr)
        return base_lr

    return lr_at


def one_cycle(step: int, total: int, peak: float) -> float:
    """torch's ``OneCycleLR(max_lr=peak, total_steps=total)`` rate at ``step`` (two phases,
    cosine annealing): from ``peak / 25`` up to ``peak`` at 30% of the steps, then down to
    ``peak / 25 / 1e4`` at the last step. A test checks it against torch at every step."""
    start = peak / ONECYCLE_DIV
    end = start / ONECYCLE_FINAL_DIV
    rise_end = float(ONECYCLE_PEAK_AT * total) - 1
    fall_end = float(total - 1)
    step = min(step, total - 1)
    if step <= rise_end:
        begin, finish, fraction = start, peak, step / rise_end
    else:
        begin, finish, fraction = peak, end, (step - rise_end) / (fall_end - rise_end)
    return finish + (begin - finish) / 2 * (math.cos(math.pi * fraction) + 1)


class Plateau:
    """``ReduceLROnPlateau`` on the validation loss as a multiplier of the schedule's rate.

    After more than ``patience`` epochs without a validation loss below the best (by torch's
    relative threshold), :attr:`multiplier` is multiplied by ``factor``. :meth:`set_rates`
    gives each parameter group ``lr × lr_scale × multiplier``, but never less than ``min_lr``
    (or than the group's unreduced rate, where that is lower): torch's floor, group by group.
    ``lasting=False`` (a schedule sets the rate anew at every epoch's start, as Keras'
    ``LearningRateScheduler`` does) returns the multiplier to 1 at each :meth:`start_epoch`.
    Without a ``[schedule.plateau]`` (``config=None``) it stays 1.
    """

    def __init__(self, config: PlateauConfig | None, base_lr: float, lasting: bool) -> None:
        self.config, self.base_lr, self.lasting = config, base_lr, lasting
        self.best = math.inf
        self.num_bad_epochs = 0
        self.multiplier = 1.0

    @classmethod
    def of(cls, schedule: ScheduleConfig, base_lr: float) -> Plateau:
        """The plateau of a recipe's ``[schedule]``; reductions last only at a constant rate."""
        lasting = schedule.name == "constant" and schedule.warmup is None
        return cls(schedule.plateau, base_lr, lasting)

    def start_epoch(self) -> None:
        """An epoch starts: a schedule overrides any reduction (Keras' callback order)."""
        if not self.lasting:
            self.multiplier = 1.0

    def end_epoch(self, val_loss: float) -> None:
        """An epoch ended with ``val_loss``: count it, and reduce after ``patience`` bad ones."""
        if self.config is None:
            return
        if val_loss < self.best * (1 - PLATEAU_THRESHOLD):
            self.best, self.num_bad_epochs = val_loss, 0
        else:
            self.num_bad_epochs += 1
        if self.num_bad_epochs > self.config.patience:
            self.multiplier *= self.config.factor
            self.num_bad_epochs = 0

    def rate(self, lr: float, scale: float = 1.0) -> float:
        """The rate of a parameter group with ``lr_scale`` ``scale`` when the schedule gives
        ``lr``: reduced by the multiplier down to ``min_lr``, never raised by the floor."""
        scaled = lr * scale
        if self.config is None or self.multiplier == 1.0:
            return scaled
        return max(scaled * self.multiplier, min(self.config.min_lr, scaled))

    def set_rates(self, optimizer: torch.optim.Optimizer, lr: float) -> None:
        """Give every parameter group its :meth:`rate` for the schedule's ``lr``."""
        for group in optimizer.param_groups:
            group["lr"] = self.rate(lr, group["lr_scale"])

    def state_dict(self) -> dict[str, Any] | None:
        """Its checkpoint entry: None without a plateau."""
        if self.config is None:
            return None
        return {"best": self.best, "num_bad_epochs": self.num_bad_epochs,
                "multiplier": self.multiplier}  # fmt: skip

    def load_state_dict(self, state: dict[str, Any] | None, saved_lr: float) -> None:
        """Restore :meth:`state_dict`. Checkpoints of zoo's torch ``ReduceLROnPlateau`` (before
        the multiplier) hold none: at a constant rate the saved optimiser's rate ``saved_lr``
        gives it; under a schedule it is 1 for every step trained."""
        if self.config is None or state is None:
            return
        self.best, self.num_bad_epochs = float(state["best"]), int(state["num_bad_epochs"])
        before = saved_lr / self.base_lr if self.lasting else 1.0
        self.multiplier = float(state.get("multiplier", before))
