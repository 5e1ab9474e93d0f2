"""The training loop: one recipe in, a run directory out.

Read it top to bottom like nanoGPT's ``train.py``: set up (process group, device, seeds, data,
model, optimiser, schedule, resume), then for each epoch train, validate, checkpoint and log.
Metrics are accumulated as tensors on the training device and read back once an epoch (and at a
few progress refreshes, only where a bar shows them), so the GPU never waits for the host between
steps. Training batches are all full (``drop_last``; the order changes each epoch, so every image
is still seen), so a compiled step never recompiles for a short last batch.
"""

from __future__ import annotations

import math
import os
import signal
import time
import tomllib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from zoo.architectures.weights import LEGACY_FORMAT, fit_and_load
from zoo.data import DataConfig, DeviceLoader, Normalizer, load_data
from zoo.data.splits import DataSplits
from zoo.errors import CheckFailed, ZooError
from zoo.recipe import Recipe, flatten
from zoo.train import budget, checkpoint, distributed
from zoo.train.device import Placement, choose_device, compile_mode, place
from zoo.train.freeze import check_patterns, freeze
from zoo.train.optim import (
    apply_schedule,
    current_lr,
    make_optimizer,
    make_plateau,
    make_scheduler,
)
from zoo.train.progress import REFRESH_STEPS, Progress
from zoo.train.signals import Stopped, StopRequest, stop_on_signals

CUBLAS_DETERMINISTIC_WORKSPACE = ":4096:8"
EVAL_BATCH_SIZE = 500
"""Validation batches: big enough to keep a GPU busy, small enough for any CPU's memory."""

RESUMABLE_CHANGES = (
    "name",
    "description",
    "train.epochs",
    "train.compile",
    "train.device",
    "train.precision",
    "train.channels_last",
)
"""What ``--resume --set`` may change: how long and where to train, not what."""


class TrainingDiverged(CheckFailed):
    """The loss became NaN or infinite: the run stops and keeps its last good checkpoint."""


@dataclass
class Run:
    """What a finished (or stopped) run leaves: its directory and per-epoch metrics."""

    run_dir: Path
    metrics: list[dict[str, Any]]
    best_val_acc: float
    is_main: bool = True
    """False in the processes of DDP ranks other than 0, which print nothing."""


def train(
    recipe: Recipe,
    run_dir: Path,
    *,
    data_root: Path | None = None,
    resume: bool = False,
    show_progress: bool = True,
    quiet: bool = False,
) -> Run:
    """Train ``recipe`` into ``run_dir`` (continuing the checkpoint there if ``resume``).
    ``show_progress=False`` leaves a line per epoch; ``quiet`` prints nothing."""
    dist = distributed.start(recipe.train.device)
    try:
        with checkpoint.locked_run_dir(run_dir, enabled=dist.is_main), stop_on_signals() as stop:
            bars = show_progress and not quiet
            return _train(recipe, run_dir, dist, data_root, resume, bars, quiet, stop)
    finally:
        distributed.stop(dist)


def _train(
    recipe: Recipe,
    run_dir: Path,
    dist: distributed.Distribution,
    data_root: Path | None,
    resume: bool,
    show_progress: bool,
    quiet: bool,
    stop: StopRequest,
) -> Run:
    config = recipe.train
    placement = place(config, distributed.device_for(dist, choose_device(config.device)))
    if dist.enabled and config.sync_batchnorm and placement.device.type != "cuda":
        raise ZooError("train.sync_batchnorm: torch's SyncBatchNorm works on CUDA GPUs only")
    seed_everything(config.seed, config.deterministic, placement.device)

    splits = load_splits(recipe, data_root, dist)
    model = recipe.build(weights=not resume)  # a resumed run's weights come from its checkpoint
    check_classes(recipe, model, splits)
    check_image_shape(recipe, splits, placement.device)
    normalizer = Normalizer.fit(splits.train_images, recipe.normalize_mode())
    train_loader = DeviceLoader(
        splits.train_images,
        splits.train_labels,
        batch_size=config.batch_size,
        device=placement.device,
        shuffle=True,
        drop_last=True,
        augment=recipe.data.augmentation() if recipe.data.augment else None,
        normalizer=normalizer,
        channels_last=placement.channels_last,
        rank=dist.rank,
        world_size=dist.world_size,
        seed=config.seed,
        workers=recipe.data.worker_count(),
        skip_bad=recipe.data.skip_bad_images,
    )
    if len(train_loader) == 0:
        raise ZooError(
            f"train.batch_size: {config.batch_size} is more than the "
            f"{train_loader.samples_per_rank} training images each process has; lower it"
        )
    val_loader = evaluation_loader(splits, normalizer, placement, recipe.data)
    check_patterns(model, config.freeze, "train.freeze", recipe.source)
    check_patterns(model, list(recipe.optim.lr_scale), "optim.lr_scale", recipe.source)
    if config.tensorboard:
        tensorboard(None)
    if dist.is_main and not resume:
        checkpoint.prepare_run_dir(run_dir)

    model = model.to(placement.device, memory_format=placement.memory_format)
    if dist.enabled and config.sync_batchnorm:
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    freeze(model, config.freeze, recipe.source)
    optimizer = make_optimizer(model, recipe.optim, placement.device)
    scheduler = make_scheduler(
        optimizer, recipe.schedule, recipe.optim.lr, len(train_loader), config.epochs
    )
    plateau = make_plateau(optimizer, recipe.schedule)

    metrics: list[dict[str, Any]] = []
    best = -1.0
    start_epoch = 0
    partial = Partial(device=placement.device)
    if resume:
        state = checkpoint.load_checkpoint(run_dir / checkpoint.LAST, placement.device, resume=True)
        check_resumable(state, recipe, run_dir)
        load_weights(model, state, run_dir / checkpoint.LAST)
        optimizer.load_state_dict(state["optimizer"])
        if scheduler is not None and state.get("scheduler") is not None:
            scheduler.load_state_dict(state["scheduler"])
        if plateau is not None and state.get("plateau") is not None:
            plateau.load_state_dict(state["plateau"])
        restore_rng(state["rng"])
        metrics, best, start_epoch = state["metrics"], state["best_val_acc"], state["epoch"]
        partial = Partial.restore(state, placement.device)
    if dist.is_main:  # on resume too: --set train.epochs=N extends the run for good
        checkpoint.write_text(run_dir / checkpoint.RECIPE_FILE, recipe.to_toml())

    network = distributed.wrap(model, placement.device) if dist.enabled else model
    objective: nn.Module = Objective(network, config.label_smoothing)
    mode = compile_mode(config, dist.enabled)
    if mode is not None:
        objective = torch.compile(objective, mode=mode)

    progress = Progress(
        config.epochs,
        len(train_loader),
        config.batch_size,
        dist.is_main and not quiet,
        bars=show_progress,
    )
    progress.announce(recipe, placement, splits, run_dir, start_epoch)
    if mode is not None and mode != compile_mode(config):
        progress.note(f"zoo: compiling in mode {mode}: CUDA graphs and SyncBatchNorm conflict")
    mix = mixing(recipe, splits.num_classes)
    board = tensorboard(run_dir) if config.tensorboard and dist.is_main else None
    stepper = Stepper(objective, optimizer, scheduler, placement, dist, progress, stop, mix)

    def training_state(epoch: int) -> dict[str, Any]:
        """Everything a resume needs, at the end of ``epoch`` or mid-way (``partial``)."""
        return {
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict() if scheduler is not None else None,
            "plateau": plateau.state_dict() if plateau is not None else None,
            "scaler": None,  # bf16 autocast needs no loss scaling
            "rng": rng_state(),
            "epoch": epoch,
            "metrics": metrics,
            "best_val_acc": best,
            "recipe": recipe.to_toml(),
            "classes": splits.classes,
            "normalizer": {"mean": normalizer.mean, "std": normalizer.std},
            "image_size": list(splits.image_shape[1:]),
            "crop_ratio": splits.crop_ratio,
            **partial.state(),
        }

    with progress:
        for epoch in range(start_epoch, config.epochs):
            started = time.perf_counter()
            train_loader.set_epoch(epoch)
            if partial.step == 0:
                if scheduler is not None:
                    apply_schedule(scheduler)  # as Keras does at each epoch's start
                partial.lr = current_lr(optimizer)
            lr = partial.lr
            train_loss, train_acc = stepper.train_epoch(train_loader, epoch, partial)
            if stop.requested and partial.step:  # stopped mid-epoch: save that very step
                if dist.is_main:
                    checkpoint.save_checkpoint(run_dir / checkpoint.LAST, training_state(epoch))
                raise Stopped(stop.signal or signal.SIGTERM, run_dir, epoch, partial.step)
            train_seconds = time.perf_counter() - started  # train_epoch synced: the time is real
            val_loss, val_acc = distributed.from_main(score(objective, val_loader, placement), dist)
            seconds = time.perf_counter() - started
            if plateau is not None:
                plateau.step(val_loss)
            row = {
                "epoch": epoch + 1,
                "lr": lr,
                "train_loss": train_loss,
                "train_acc": train_acc,
                "val_loss": val_loss,
                "val_acc": val_acc,
                "seconds": round(seconds, 3),
                "train_seconds": round(train_seconds, 3),
                "images_per_sec": round(
                    len(train_loader) * config.batch_size * dist.world_size / train_seconds, 1
                ),
            }
            diverged = not math.isfinite(val_loss)  # strict JSON has no Infinity: null + a flag
            if diverged:
                row |= {"val_loss": None, "diverged": True}
            metrics.append(row)
            improved = not diverged and val_acc > best  # a diverged epoch never becomes best
            best = max(best, val_acc)
            if dist.is_main:
                state = training_state(epoch + 1)
                if improved:  # best first: a kill between the two leaves last.pt the older
                    checkpoint.save_checkpoint(run_dir / checkpoint.BEST, state)
                checkpoint.save_checkpoint(run_dir / checkpoint.LAST, state)
                checkpoint.write_metrics(run_dir / checkpoint.METRICS_FILE, metrics)
                if board is not None:
                    for key, value in row.items():
                        if key != "epoch" and isinstance(value, int | float):
                            board.add_scalar(key, value, epoch + 1)
                    board.flush()
            progress.epoch_done(row, improved)
            if stop.requested and epoch + 1 < config.epochs:  # stopped while validating
                raise Stopped(stop.signal or signal.SIGTERM, run_dir, epoch + 1, 0)
    progress.finish(metrics)
    return Run(run_dir, metrics, best, dist.is_main)


def seed_everything(seed: int, deterministic: bool, device: torch.device) -> None:
    """Seed torch; in deterministic mode also ask for deterministic kernels."""
    torch.manual_seed(seed)
    if deterministic:
        # cuBLAS is deterministic only with a fixed workspace (torch's reproducibility notes)
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", CUBLAS_DETERMINISTIC_WORKSPACE)
        torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.benchmark = False
    elif device.type == "cuda":
        torch.backends.cudnn.benchmark = True


def load_splits(
    recipe: Recipe, data_root: Path | None, dist: distributed.Distribution | None = None
) -> DataSplits:
    """The recipe's data set, with ``--data-dir`` in place of ``data.root`` if given. Under DDP
    rank 0 loads first (and downloads, if it must) while the other ranks wait for it."""
    config = (
        recipe.data if data_root is None else recipe.data.model_copy(update={"root": data_root})
    )
    dist = dist or distributed.Distribution()
    if not dist.is_main:
        distributed.barrier(dist)
    splits = load_data(config)
    if dist.is_main:
        distributed.barrier(dist)
    return splits


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


def load_weights(model: nn.Module, state: dict[str, Any], path: Path) -> None:
    """Load a checkpoint's state dict, migrating the layout of format 1; weights that do not
    fit the recipe's model are one clear error."""
    if not isinstance(state["model"], dict):
        raise ZooError(f"{path}: the checkpoint's model is not a state dict")
    legacy = state["format"] == LEGACY_FORMAT
    fit_and_load(model, state["model"], str(path), fresh_classifier=False, legacy=legacy)


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" + ("" if count == 1 else "s")


def check_image_shape(
    recipe: Recipe, splits: DataSplits, device: torch.device | None = None
) -> None:
    """A batch through the network on the meta device: a size or channel count the network
    cannot take, or activations that do not fit ``device``, is one clear error before anything
    is written."""
    with torch.device("meta"):
        network = recipe.build(weights=False)
        try:
            batch = (recipe.train.batch_size, *splits.image_shape)
            size = budget.estimate(network.eval(), batch)
            where = device or torch.device("cpu")
            budget.check_fits(size, where, recipe.source, recipe.train.batch_size)
            batch_size = recipe.train.batch_size  # training batches are all full (drop_last)
            network.train()(torch.empty(min(batch_size, 2), *splits.image_shape))
        except ValueError as exc:  # batch norm cannot train on one value per channel
            raise ZooError(
                f"{recipe.source}: batch norm cannot train on a batch of one "
                f"{'×'.join(map(str, splits.image_shape[1:]))} image ({exc}); change "
                "train.batch_size so that no batch (the last one included) holds one image"
            ) from exc
        except RuntimeError as exc:
            raise ZooError(
                f"{recipe.source}: the network cannot take {splits.name}'s images of shape "
                f"{'×'.join(map(str, splits.image_shape))} ({str(exc).splitlines()[0]})"
            ) from exc


def check_classes(recipe: Recipe, model: nn.Module, splits: DataSplits) -> None:
    """The classifier's outputs must match the data set's classes."""
    outputs = getattr(model, "num_classes", None)
    if outputs is not None and outputs != splits.num_classes:
        raise ZooError(
            f"{recipe.source}: the model has {outputs} classes but {splits.name} has "
            f"{splits.num_classes}; set model.num_classes = {splits.num_classes}"
        )


def evaluation_loader(
    splits: DataSplits, normalizer: Normalizer, placement: Placement, data: DataConfig
) -> DeviceLoader:
    """The validation split, unshuffled and unaugmented, in large batches (nothing is learnt,
    so the batch size only decides how many launches it takes)."""
    return DeviceLoader(
        splits.val_images,
        splits.val_labels,
        batch_size=EVAL_BATCH_SIZE,
        device=placement.device,
        normalizer=normalizer,
        channels_last=placement.channels_last,
        workers=data.worker_count(),
        skip_bad=data.skip_bad_images,
    )


class Objective(nn.Module):
    """The network and what a step computes from its logits — the loss, and the summed loss and
    count of correct predictions for the metrics — as one module, so that ``torch.compile`` takes
    them into the network's graph instead of launching about ten small kernels a step.

    ``forward`` returns the mean loss (label-smoothed in training) and ``[summed loss, correct]``
    as float32: exact counts up to 2^24 images an epoch. ``tta`` averages the image and its mirror.
    """

    def __init__(self, network: nn.Module, label_smoothing: float = 0.0, tta: bool = False):
        super().__init__()
        self.network, self.label_smoothing, self.tta = network, label_smoothing, tta

    def forward(self, images: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, ...]:
        logits = self.network(images).float()
        if self.tta:  # log of the mean of the two softmaxes, without underflow to log(0)
            mirrored = self.network(images.flip(3)).float()
            both = torch.logaddexp(logits.log_softmax(1), mirrored.log_softmax(1))
            logits = both - math.log(2)
        soft = labels.is_floating_point()  # mixup's and cutmix's targets, already smoothed
        smoothing = self.label_smoothing if self.training and not soft else 0.0
        loss = F.cross_entropy(logits, labels, label_smoothing=smoothing)
        correct = (logits.argmax(1) == (labels.argmax(1) if soft else labels)).sum()
        return loss, torch.stack([loss.detach() * labels.shape[0], correct.float()])


@dataclass
class Stepper:
    """What one training epoch needs: the (compiled) objective, its optimiser and schedule, and
    where to run."""

    objective: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: Any
    placement: Placement
    dist: distributed.Distribution
    progress: Progress
    stop: StopRequest
    mix: Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]] | None = None

    def train_epoch(
        self, loader: DeviceLoader, epoch: int, partial: Partial
    ) -> tuple[float, float]:
        """One pass over this rank's shard, from ``partial.step`` on (a resumed stop); the mean
        loss and accuracy over all ranks. A stop request ends it after the current step, with
        ``partial`` holding where it stopped."""
        self.objective.train()
        totals, seen = partial.totals, partial.seen
        self.progress.start_epoch(epoch)
        for step, (images, labels) in enumerate(loader.batches_from(partial.step), partial.step):
            torch.compiler.cudagraph_mark_step_begin()  # the last step's outputs are consumed
            if self.mix is not None and labels.shape[0] % 2 == 0:
                images, labels = self.mix(images, labels)
            with self.placement.autocast():
                loss, stats = self.objective(images, labels)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            if self.scheduler is not None:
                self.scheduler.step()
            totals += stats
            seen += labels.shape[0]
            if self.progress.shows_status and (step + 1) % REFRESH_STEPS == 0:
                loss_sum, hits = totals.tolist()  # a host sync, only where a bar shows it
                check_finite(loss_sum / seen, epoch, step)
                self.progress.refresh(
                    step, loss_sum / seen, hits / seen, current_lr(self.optimizer)
                )
            else:
                self.progress.advance(step)
            if self._stopping(step):
                partial.step, partial.totals, partial.seen = step + 1, totals, seen
                return math.nan, math.nan
        partial.step, partial.totals, partial.seen = 0, torch.zeros_like(totals), 0
        totals = distributed.all_sum(totals, self.dist)
        mean_loss, accuracy = (totals / (seen * self.dist.world_size)).tolist()
        check_finite(mean_loss, epoch, len(loader) - 1)
        return mean_loss, accuracy

    def _stopping(self, step: int) -> bool:
        """Whether to stop after ``step``: at once in one process; under DDP all ranks agree at
        every :data:`REFRESH_STEPS`-th step, so that none waits for another in a collective."""
        if not self.dist.enabled:
            return self.stop.requested
        if (step + 1) % REFRESH_STEPS:
            return False
        flag = torch.tensor(float(self.stop.requested), device=self.placement.device)
        return bool(distributed.all_max(flag, self.dist))


def tensorboard(run_dir: Path | None) -> Any:
    """A TensorBoard ``SummaryWriter`` into the run directory (``train.tensorboard``); with no
    directory, only the check that TensorBoard is installed, before anything is written."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as exc:
        raise ZooError(
            "train.tensorboard needs TensorBoard: pip install 'zoo[tensorboard]' "
            "(or set train.tensorboard = false)"
        ) from exc
    return None if run_dir is None else SummaryWriter(log_dir=str(run_dir))


def mixing(recipe: Recipe, num_classes: int) -> Any:
    """timm's ``Mixup`` for ``data.mixup`` and ``data.cutmix`` (None when both are 0): whole
    batches on the device, soft targets smoothed by ``train.label_smoothing``. It draws from
    NumPy's global generator, seeded here from ``train.seed``."""
    data = recipe.data
    if not data.mixup and not data.cutmix:
        return None
    from timm.data import Mixup

    np.random.seed(recipe.train.seed)
    return Mixup(
        mixup_alpha=data.mixup,
        cutmix_alpha=data.cutmix,
        label_smoothing=recipe.train.label_smoothing,
        num_classes=num_classes,
    )


@dataclass
class Partial:
    """Where a stopped epoch stands: the steps done, the summed loss and correct count so far,
    and the epoch's learning rate (as reported in its metrics row)."""

    device: torch.device
    step: int = 0
    seen: int = 0
    lr: float = 0.0
    totals: torch.Tensor = field(default_factory=lambda: torch.zeros(2))

    def __post_init__(self) -> None:
        self.totals = self.totals.to(self.device)

    def state(self) -> dict[str, Any]:
        """Its checkpoint entries (none at an epoch's end)."""
        if not self.step:
            return {}
        return {"step": self.step, "seen": self.seen, "epoch_lr": self.lr,
                "partial": self.totals.cpu()}  # fmt: skip

    @classmethod
    def restore(cls, state: dict[str, Any], device: torch.device) -> Partial:
        if not state.get("step"):
            return cls(device=device)
        return cls(device, state["step"], state["seen"], state["epoch_lr"], state["partial"])


@torch.no_grad()
def score(objective: nn.Module, loader: DeviceLoader, placement: Placement) -> tuple[float, float]:
    """Mean loss and accuracy of an :class:`Objective` (compiled or not) over a loader."""
    objective.eval()
    totals = torch.zeros(2, device=placement.device)
    seen = 0
    for images, labels in loader:
        torch.compiler.cudagraph_mark_step_begin()
        with placement.autocast():
            _, stats = objective(images, labels)
        totals += stats
        seen += labels.shape[0]
    loss_sum, hits = totals.tolist()
    return loss_sum / max(seen, 1), hits / max(seen, 1)


def evaluate(
    network: nn.Module, loader: DeviceLoader, placement: Placement, tta: bool = False
) -> tuple[float, float]:
    """Mean loss and accuracy over a loader; ``tta`` averages the image and its mirror."""
    return score(Objective(network, tta=tta), loader, placement)


def check_finite(loss: float, epoch: int, step: int) -> None:
    if not math.isfinite(loss):
        raise TrainingDiverged(
            f"training diverged: the loss became {loss} in epoch {epoch + 1} (step {step + 1}); "
            "the run stopped, and last.pt (if an epoch finished) keeps the last good one. "
            "Try a lower optim.lr."
        )


def rng_state() -> dict[str, Any]:
    """torch's global random states (dropout draws from them), as tensors; the loader's order
    and augmentations depend on the epoch alone (:meth:`DeviceLoader.set_epoch`)."""
    state: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    """Restore :func:`rng_state`'s states. A run saved on more GPUs than this machine shows
    restores the first ones (each rank draws on its own device only); on fewer, the rest keep
    their seeds."""
    torch.set_rng_state(state["torch"].cpu())
    if "cuda" in state and torch.cuda.is_available():
        for index, saved in enumerate(state["cuda"][: torch.cuda.device_count()]):
            torch.cuda.set_rng_state(saved.cpu(), index)
