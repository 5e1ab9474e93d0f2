"""Optimisers and learning-rate schedules from ``[optim]`` and ``[schedule]``.

The optimisers are torch's (fused kernels where torch has them). Weight decay goes to the
parameters ``decay_on`` names, as separate parameter groups: the seed's Keras
``kernel_regularizer=l2(1e-4)`` sits on conv kernels only.

The schedule is one closed-form function of the optimiser step, run by torch's ``LambdaLR``,
because torch's own schedulers lack two things we need: the seed's step factors are not a constant
gamma (×1e-1, ×1e-2, ×1e-3, then ×0.5e-3, which ``MultiStepLR`` cannot express), and the seed
combines its schedule with ``ReduceLROnPlateau`` the Keras way — the schedule sets the lr anew at
every step, so a plateau reduction lasts only until then. A closed form reproduces that exactly
(and resumes exactly). One-cycle is torch's ``OneCycleLR`` as it is.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn
from torch.optim.lr_scheduler import LambdaLR, LRScheduler, OneCycleLR, ReduceLROnPlateau

from zoo.train.config import OptimConfig, ScheduleConfig
from zoo.train.freeze import matches


def parameter_groups(model: nn.Module, config: OptimConfig) -> list[dict]:
    """Split the trained parameters into groups by weight decay (``decay_on``) and by learning
    rate (``lr_scale``: the first pattern that matches a parameter's module scales its rate)."""
    groups: dict[tuple[bool, float], list[nn.Parameter]] = {}
    for name, parameter in model.named_parameters():
        if not parameter.requires_grad:
            continue
        if config.decay_on == "all":
            decayed = True
        elif config.decay_on == "weights":
            decayed = parameter.ndim > 1  # conv and linear weights; not biases or BN
        else:
            decayed = parameter.ndim == 4  # conv kernels
        module = name.rpartition(".")[0]
        scales = [s for pattern, s in config.lr_scale.items() if matches(module, pattern)]
        groups.setdefault((decayed, scales[0] if scales else 1.0), []).append(parameter)
    ordered = sorted(groups.items(), key=lambda item: (-item[0][1], not item[0][0]))
    return [
        {
            "params": params,
            "weight_decay": config.weight_decay if decayed else 0.0,
            "lr": config.lr * scale,
        }
        for (decayed, scale), params in ordered
    ]


def make_optimizer(
    model: nn.Module, config: OptimConfig, device: torch.device
) -> torch.optim.Optimizer:
    """The torch optimiser of ``config``; fused kernels on CUDA and CPU, foreach elsewhere."""
    groups = parameter_groups(model, config)
    fast = {"fused": True} if device.type in ("cuda", "cpu") else {"foreach": True}
    if config.name == "sgd":
        return torch.optim.SGD(
            groups, lr=config.lr, momentum=config.momentum, nesterov=config.nesterov, **fast
        )
    optimizer = torch.optim.Adam if config.name == "adam" else torch.optim.AdamW
    return optimizer(groups, lr=config.lr, betas=config.betas, eps=config.eps, **fast)


def lr_factor(
    schedule: ScheduleConfig, base_lr: float, steps_per_epoch: int, total_steps: int
) -> Callable[[int], float]:
    """The lr multiplier at each optimiser step (0-based), in closed form."""
    milestones = [
        round(m * total_steps)
        if schedule.milestones_unit == "fraction"
        else round(m * steps_per_epoch)
        for m in schedule.milestones
    ]
    floor = schedule.min_lr / base_lr

    def factor(step: int) -> float:
        if schedule.warmup is not None and step < schedule.warmup.steps:
            return schedule.warmup.lr / base_lr
        if schedule.name == "steps":
            passed = [f for m, f in zip(milestones, schedule.factors, strict=False) if step >= m]
            return passed[-1] if passed else 1.0
        if schedule.name == "cosine":
            progress = min(step / max(total_steps, 1), 1.0)
            return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))
        return 1.0

    return factor


def make_scheduler(
    optimizer: torch.optim.Optimizer,
    schedule: ScheduleConfig,
    base_lr: float,
    steps_per_epoch: int,
    epochs: int,
) -> LRScheduler | None:
    """A per-step scheduler, or None for a constant lr without warm-up."""
    total = steps_per_epoch * epochs
    if schedule.name == "onecycle":
        return OneCycleLR(optimizer, max_lr=base_lr, total_steps=total, cycle_momentum=False)
    if schedule.name == "constant" and schedule.warmup is None:
        return None
    return LambdaLR(optimizer, lr_factor(schedule, base_lr, steps_per_epoch, total))


def make_plateau(
    optimizer: torch.optim.Optimizer, schedule: ScheduleConfig
) -> ReduceLROnPlateau | None:
    """Keras' ReduceLROnPlateau on the validation loss, stepped once an epoch."""
    if schedule.plateau is None:
        return None
    plateau = schedule.plateau
    return ReduceLROnPlateau(
        optimizer, factor=plateau.factor, patience=plateau.patience, min_lr=plateau.min_lr
    )


def apply_schedule(scheduler: LRScheduler) -> None:
    """Set the lr the schedule gives at its current step, overriding any plateau reduction —
    what Keras' LearningRateScheduler does at the start of each epoch. After a resume it also
    applies the schedule as the (possibly longer) recipe now defines it."""
    if isinstance(scheduler, LambdaLR):
        step = scheduler.last_epoch
        groups = scheduler.optimizer.param_groups
        for group, base, factor in zip(
            groups, scheduler.base_lrs, scheduler.lr_lambdas, strict=True
        ):
            group["lr"] = base * factor(step)


def current_lr(optimizer: torch.optim.Optimizer) -> float:
    """The learning rate of the unscaled parameters (the largest, with ``lr_scale``)."""
    return max(float(group["lr"]) for group in optimizer.param_groups)
