"""Where a run stands, and the one place that turns it into a checkpoint and back.

A checkpoint (``last.pt``, ``best.pt``) is :meth:`TrainingState.checkpoint`; ``--resume`` is
:meth:`TrainingState.restore`. Both list the same entries side by side, so what is saved and what
is restored cannot drift apart. No scheduler state is among them: the learning rate is a
closed-form function of the step (:mod:`zoo.train.schedule`), which follows from the epoch and
``step``, times the plateau's multiplier, which is saved.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from zoo.data import Normalizer
from zoo.data.splits import DataSplits
from zoo.errors import ZooError, plural
from zoo.recipe import Recipe, flatten
from zoo.runs.checkpoint import load_checkpoint
from zoo.runs.layout import LAST
from zoo.runs.model import load_weights
from zoo.train.objective import LossScaler
from zoo.train.optim import load_optimizer_state
from zoo.train.schedule import Plateau

RESUMABLE_CHANGES = (
    "name",
    "description",
    "train.epochs",
    "train.compile",
    "train.device",
    "train.precision",
    "train.channels_last",
    "train.accumulate_steps",
)
"""What ``--resume --set`` may change: how long and where to train (and in how many
micro-batches a step fits the memory there), not what."""


@dataclass
class TrainingState:
    """The model, optimiser and plateau of a run, and how far it has come: ``epoch`` finished
    epochs, then ``step`` steps of the next one (a run stopped mid-epoch) with their summed loss
    and correct count (``totals``) over ``seen`` images, at that epoch's reported ``epoch_lr``,
    in ``epoch_seconds`` of training timed from step ``timed_from`` (0, or where a checkpoint
    written before zoo saved the seconds resumed)."""

    model: nn.Module
    optimizer: torch.optim.Optimizer
    plateau: Plateau
    recipe: Recipe
    splits: DataSplits
    normalizer: Normalizer
    device: torch.device
    epoch: int = 0
    step: int = 0
    seen: int = 0
    epoch_lr: float = 0.0
    epoch_seconds: float = 0.0
    timed_from: int = 0
    metrics: list[dict[str, Any]] = field(default_factory=list)
    best: float = -1.0
    scaler: LossScaler | None = None
    """fp16's loss scaler, checkpointed with its scale and count of skipped steps."""
    ema: nn.Module | None = None
    """timm's ``ModelEmaV3`` of the model (``train.ema_decay``); its weights are checkpointed."""
    totals: torch.Tensor = field(init=False)

    def __post_init__(self) -> None:
        self.totals = torch.zeros(2, device=self.device)

    def next_epoch(self) -> None:
        """An epoch finished: count it, and start the next one's sums afresh."""
        self.epoch, self.step, self.seen = self.epoch + 1, 0, 0
        self.epoch_seconds, self.timed_from = 0.0, 0
        self.totals = torch.zeros_like(self.totals)

    def checkpoint(self) -> dict[str, Any]:
        """Everything a resume needs (and what using the model needs: recipe, classes,
        normalisation, image size)."""
        state = {
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "plateau": self.plateau.state_dict(),
            "scaler": None if self.scaler is None else self.scaler.state_dict(),  # fp16 only
            "rng": rng_state(),
            "epoch": self.epoch,
            "metrics": self.metrics,
            "best_val_acc": self.best,
            "recipe": self.recipe.to_toml(),
            "classes": self.splits.classes,
            "normalizer": {"mean": self.normalizer.mean, "std": self.normalizer.std},
            "image_size": list(self.splits.image_shape[1:]),
            "crop_ratio": self.splits.crop_ratio,
        }
        if self.ema is not None:
            state["ema"] = self.ema.module.state_dict()
        if self.step:  # stopped mid-epoch
            state |= {"step": self.step, "seen": self.seen, "epoch_lr": self.epoch_lr,
                      "partial": self.totals.cpu(), "epoch_seconds": self.epoch_seconds,
                      "timed_from": self.timed_from}  # fmt: skip
        return state

    def restore(self, run_dir: Path) -> None:
        """Continue the run in ``run_dir`` from its ``last.pt``, if the recipe lets it."""
        path = run_dir / LAST
        saved = load_checkpoint(path, self.device, resume=True)
        check_resumable(saved, self.recipe, run_dir)
        load_weights(self.model, saved, path)
        load_optimizer_state(self.optimizer, saved["optimizer"])
        group = self.optimizer.param_groups[0]
        self.plateau.load_state_dict(saved.get("plateau"), group["lr"] / group["lr_scale"])
        restore_rng(saved["rng"])
        if self.scaler is not None:
            self.scaler.load_state_dict(saved.get("scaler"))
        if self.ema is not None:
            self.ema.module.load_state_dict(saved["ema"])
        self.epoch, self.metrics, self.best = (
            saved["epoch"],
            saved["metrics"],
            saved["best_val_acc"],
        )
        if saved.get("step"):
            self.step, self.seen, self.epoch_lr = saved["step"], saved["seen"], saved["epoch_lr"]
            self.totals = saved["partial"].to(self.device)
            # The epoch's images/s spans both sessions; without saved seconds, only this one's.
            self.epoch_seconds = saved.get("epoch_seconds", 0.0)
            self.timed_from = saved.get("timed_from", 0) if "epoch_seconds" in saved else self.step


def check_resumable(state: dict[str, Any], recipe: Recipe, run_dir: Path) -> None:
    """Refuse to resume a finished run, or to stretch a one-cycle schedule."""
    done = state["epoch"]
    if done >= recipe.train.epochs:
        raise ZooError(
            f"{run_dir} already finished {plural(done, 'epoch')}; to go on, raise them, "
            f"e.g. --set train.epochs={done * 2}"
        )
    saved = flatten(tomllib.loads(state["recipe"]))
    now = flatten(tomllib.loads(recipe.to_toml()))
    changed = sorted(k for k in saved.keys() | now.keys() if saved.get(k) != now.get(k))
    refused = [key for key in changed if key not in RESUMABLE_CHANGES]
    if refused:
        raise ZooError(
            f"{run_dir}: a resumed run keeps its recipe; it may change only "
            f"{', '.join(RESUMABLE_CHANGES[2:])}, not {', '.join(refused)}"
        )
    if recipe.schedule.name == "onecycle" and "train.epochs" in changed:
        raise ZooError(
            f"{run_dir}: a one-cycle schedule cannot be stretched from {saved['train.epochs']} "
            f"to {recipe.train.epochs} epochs; train a new run instead"
        )


def rng_state() -> dict[str, Any]:
    """The global random states, as tensors and numbers (``weights_only`` loads them): torch's
    (dropout draws from them) and NumPy's (timm's mixup and cutmix draw from it). The loader's
    order and augmentations depend on the epoch alone (:meth:`DeviceLoader.set_epoch`)."""
    state: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    kind, keys, position, has_gauss, gauss = np.random.get_state()
    state["numpy"] = {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)),
                      "position": position, "has_gauss": has_gauss, "gauss": gauss}  # fmt: skip
    return state


def restore_rng(state: dict[str, Any]) -> None:
    """Restore :func:`rng_state`'s states. A run saved on more GPUs than this machine shows
    restores the first ones (each rank draws on its own device only); on fewer, the rest keep
    their seeds."""
    torch.set_rng_state(state["torch"].cpu())
    if "numpy" in state:  # since mixup; earlier checkpoints keep the seed's state
        saved = state["numpy"]
        keys = saved["keys"].numpy().astype(np.uint32)
        np.random.set_state(
            (saved["kind"], keys, saved["position"], saved["has_gauss"], saved["gauss"])
        )
    if "cuda" in state and torch.cuda.is_available():
        for index, saved in enumerate(state["cuda"][: torch.cuda.device_count()]):
            torch.cuda.set_rng_state(saved.cpu(), index)
