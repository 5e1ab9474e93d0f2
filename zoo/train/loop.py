"""The training loop: one recipe in, a run directory out.

Read :func:`train` top to bottom like nanoGPT's ``train.py``: set up (processes, device, seeds,
data, model, optimiser, learning rate, resume), then for each epoch train step by step, validate,
checkpoint and log. The learning rate of every step is one closed-form function of the step
times the plateau's multiplier (:mod:`zoo.train.schedule`); what a checkpoint saves and a resume
restores is built in one place (:class:`~zoo.train.state.TrainingState`). Metrics are summed as
tensors on the training device and read back once an epoch (and at a few progress refreshes,
only where a bar shows them), so the GPU never waits for the host between steps.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from zoo.data import Normalizer
from zoo.errors import CheckFailed
from zoo.recipe import Recipe
from zoo.runs import layout
from zoo.runs.checkpoint import save_checkpoint
from zoo.runs.files import locked_run_dir, prepare_run_dir, write_text
from zoo.runs.metrics import write_metrics
from zoo.train.freeze import freeze
from zoo.train.loaders import evaluation_loader, load_splits, training_loader
from zoo.train.objective import LossScaler, Objective, score, train_step
from zoo.train.optim import make_optimizer
from zoo.train.preflight import check_placement, check_run
from zoo.train.progress import REFRESH_STEPS, Progress
from zoo.train.runtime import distributed
from zoo.train.runtime.device import choose_device, compile_mode, place
from zoo.train.runtime.signals import Stopped, StopRequest, stop_on_signals
from zoo.train.schedule import Plateau, learning_rate
from zoo.train.state import TrainingState
from zoo.train.tensorboard import log_epoch, writer

CUBLAS_DETERMINISTIC_WORKSPACE = ":4096:8"


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
    """Train ``recipe`` into ``run_dir`` (continuing the checkpoint there if ``resume``), with
    ``data_root`` in place of ``data.root`` if given. ``show_progress=False`` leaves a line per
    epoch; ``quiet`` prints nothing. SIGINT and SIGTERM stop it after the current step (under
    DDP, at the next step where the ranks agree), which is saved
    (:class:`~zoo.train.runtime.signals.Stopped`)."""
    config = recipe.train
    with contextlib.ExitStack() as cleanup:
        # Processes and device: one process, or one per GPU under torchrun.
        dist = distributed.start(config.device)
        cleanup.callback(distributed.stop, dist)
        cleanup.enter_context(locked_run_dir(run_dir, enabled=dist.is_main))
        stop = cleanup.enter_context(stop_on_signals())
        placement = place(config, distributed.device_for(dist, choose_device(config.device)))
        check_placement(recipe, placement, dist)
        seed_everything(config.seed, config.deterministic, placement.device)

        # Model and data (the weights first: a wrong path fails before a long decode), checked
        # before anything is written.
        model = recipe.build(weights=not resume)  # a resumed run's weights are in its checkpoint
        splits = load_splits(recipe, data_root, dist)
        normalizer = Normalizer.fit(splits.train_images, recipe.normalize_mode())
        train_loader = training_loader(recipe, splits, normalizer, placement, dist)
        val_loader = evaluation_loader(splits, normalizer, placement, recipe.data)
        check_run(recipe, model, splits, placement, train_loader.samples_per_rank)
        if dist.is_main and not resume:
            prepare_run_dir(run_dir)

        # Model, optimiser, learning rate, and the run so far when resuming.
        model = model.to(placement.device, memory_format=placement.memory_format)
        if dist.enabled and config.sync_batchnorm:
            model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        freeze(model, config.freeze, recipe.source)
        optimizer = make_optimizer(model, recipe.optim, placement.device)
        steps = len(train_loader)
        lr_at = learning_rate(recipe.schedule, recipe.optim.lr, steps, config.epochs)
        plateau = Plateau.of(recipe.schedule, recipe.optim.lr)
        mix = mixing(recipe, splits.num_classes)  # seeds NumPy's generator; a resume restores it
        scaler = LossScaler(placement)  # fp16 only: the other steps take no scaler at all
        state = TrainingState(
            model, optimizer, plateau, recipe, splits, normalizer, placement.device,
            scaler=scaler if scaler.enabled else None, ema=model_ema(model, config.ema_decay),
        )  # fmt: skip
        if resume:
            state.restore(run_dir)
        if dist.is_main:  # on resume too: --set train.epochs=N extends the run for good
            write_text(run_dir / layout.RECIPE_FILE, recipe.to_toml())

        # A step's computation, the network (DDP-wrapped) and its loss, compiled as one graph.
        network = distributed.wrap(model, placement.device) if dist.enabled else model
        objective: nn.Module = Objective(network, config.label_smoothing)
        mode = compile_mode(config, dist.enabled)
        if mode is not None:
            objective = torch.compile(objective, mode=mode)
        no_sync = network.no_sync if dist.enabled else None
        board = (
            cleanup.enter_context(writer(run_dir)) if config.tensorboard and dist.is_main else None
        )
        shown = dist.is_main and not quiet
        progress = Progress(config.epochs, steps, config.batch_size, shown, bars=show_progress)
        progress.announce(recipe, placement, splits, run_dir, state.epoch)
        if mode is not None and mode != compile_mode(config):
            progress.note(f"zoo: compiling in mode {mode}: CUDA graphs and SyncBatchNorm conflict")

        with progress:
            for epoch in range(state.epoch, config.epochs):
                started, first = time.perf_counter(), state.step  # first > 0: resumed mid-epoch
                train_loader.set_epoch(epoch)
                if first == 0:
                    plateau.start_epoch()  # a schedule overrides a plateau reduction, as in Keras
                objective.train()
                progress.start_epoch(epoch, first)
                for step, (images, labels) in enumerate(train_loader.batches_from(first), first):
                    scheduled = lr_at(epoch * steps + step)
                    plateau.set_rates(optimizer, scheduled)  # x each group's lr_scale
                    lr = plateau.rate(scheduled)  # before lr_scale: what bars and metrics show
                    if step == 0:
                        state.epoch_lr = lr
                    if mix is not None and labels.shape[0] % 2 == 0:  # skipped bad files: odd
                        images, labels = mix(images, labels)
                    state.totals += train_step(
                        objective, optimizer, placement, images, labels,
                        accumulate=config.accumulate_steps, no_sync=no_sync, scaler=state.scaler,
                    )  # fmt: skip
                    if state.ema is not None:  # the step counts for the EMA's warm-up
                        state.ema.update(model, step=epoch * steps + step + 1)
                    state.seen += labels.shape[0]
                    state.step = step + 1
                    if progress.shows_status and state.step % REFRESH_STEPS == 0:
                        loss_sum, hits = state.totals.tolist()  # a host sync, only for a bar
                        if not dist.enabled:  # under DDP all ranks stop together, at the end
                            check_finite(loss_sum / state.seen, epoch, step)
                        progress.refresh(step, loss_sum / state.seen, hits / state.seen, lr)
                    else:
                        progress.advance(step)
                    if stopping(stop, state.step, dist, placement.device):  # save that very step
                        state.epoch_seconds += time.perf_counter() - started
                        if dist.is_main:
                            save_checkpoint(run_dir / layout.LAST, state.checkpoint())
                        raise Stopped(stop.signal or signal.SIGTERM, run_dir, epoch, state.step)

                # The epoch's figures: one read of the sums (all ranks'), then validation.
                images_trained = (
                    (state.step - state.timed_from) * config.batch_size * dist.world_size
                )
                sums = distributed.all_sum(state.totals.clone(), dist) / (
                    state.seen * dist.world_size
                )
                train_loss, train_acc = sums.tolist()
                check_finite(train_loss, epoch, steps - 1)
                train_seconds = state.epoch_seconds + time.perf_counter() - started  # synced
                val_loss, val_acc = distributed.from_main(
                    score(objective, val_loader, placement), dist
                )
                plateau.end_epoch(val_loss)
                row = {
                    "epoch": epoch + 1,
                    "lr": state.epoch_lr,
                    "train_loss": train_loss,
                    "train_acc": train_acc,
                    "val_loss": val_loss,
                    "val_acc": val_acc,
                    "seconds": round(state.epoch_seconds + time.perf_counter() - started, 3),
                    "train_seconds": round(train_seconds, 3),
                    "images_per_sec": round(images_trained / train_seconds, 1)
                    if images_trained
                    else None,  # resumed at the last step from an old checkpoint: nothing timed
                }
                if state.scaler is not None:  # fp16: the run's steps skipped for overflowing
                    row["skipped_steps"] = state.scaler.skipped
                winner, best_acc = "model", val_acc
                if state.ema is not None:  # the average's own validation, beside the model's
                    loss_ema, acc_ema = distributed.from_main(
                        score(Objective(state.ema.module), val_loader, placement), dist
                    )
                    row |= {"val_loss_ema": loss_ema if math.isfinite(loss_ema) else None,
                            "val_acc_ema": acc_ema}  # fmt: skip
                    if acc_ema > val_acc:
                        winner, best_acc = "ema", acc_ema
                diverged = not math.isfinite(val_loss)  # strict JSON has no Infinity: null + a flag
                if diverged:
                    row |= {"val_loss": None, "diverged": True}
                improved = not diverged and best_acc > state.best  # diverged is never best
                state.best = max(state.best, best_acc)
                state.metrics.append(row)
                state.next_epoch()
                if dist.is_main:
                    saved = state.checkpoint()
                    if improved:  # best first: a kill between the two leaves last.pt the older
                        save_checkpoint(run_dir / layout.BEST, best_weights(saved, winner))
                    save_checkpoint(run_dir / layout.LAST, saved)
                    write_metrics(run_dir / layout.METRICS_FILE, state.metrics)
                    log_epoch(board, row)
                progress.epoch_done(row, improved)
                if stop.requested and epoch + 1 < config.epochs:  # stopped while validating
                    raise Stopped(stop.signal or signal.SIGTERM, run_dir, epoch + 1, 0)
        progress.finish(state.metrics)
        return Run(run_dir, state.metrics, state.best, dist.is_main)


def model_ema(model: nn.Module, decay: float) -> nn.Module | None:
    """timm's ``ModelEmaV3`` of ``model`` with its warm-up (the decay rises towards ``decay``
    over the first steps, 1 - (1 + step)^(-2/3)), or None when ``decay`` is 0."""
    if decay == 0:
        return None
    from timm.utils import ModelEmaV3

    return ModelEmaV3(model, decay=decay, use_warmup=True)


def best_weights(saved: dict[str, Any], winner: str) -> dict[str, Any]:
    """The checkpoint ``best.pt`` gets: with EMA, the weights that validated better (the
    model's or the average's) as its ``model``, and ``weights`` saying which."""
    if "ema" not in saved:
        return saved
    weights = saved["ema"] if winner == "ema" else saved["model"]
    return saved | {"model": weights, "weights": winner}


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


def stopping(
    stop: StopRequest, steps_done: int, dist: distributed.Distribution, device: torch.device
) -> bool:
    """Whether to stop after ``steps_done`` steps of the epoch: at once in one process; under DDP
    all ranks agree at every :data:`REFRESH_STEPS`-th step, so that none waits for another in a
    collective."""
    if not dist.enabled:
        return stop.requested
    if steps_done % REFRESH_STEPS:
        return False
    flag = torch.tensor(float(stop.requested), device=device)
    return bool(distributed.all_max(flag, dist))


def mixing(recipe: Recipe, num_classes: int) -> Any:
    """timm's ``Mixup`` for ``data.mixup`` and ``data.cutmix`` (None when both are 0): whole
    batches on the device (even ones: the recipe checks the batch size, but a streamed batch
    that skipped a bad file is not mixed), soft targets smoothed by ``train.label_smoothing``.
    It draws from NumPy's global generator, seeded here from ``train.seed`` and saved in every
    checkpoint (:func:`zoo.train.state.rng_state`)."""
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


def check_finite(loss: float, epoch: int, step: int) -> None:
    if not math.isfinite(loss):
        raise TrainingDiverged(
            f"training diverged: the loss became {loss} in epoch {epoch + 1} (step {step + 1}); "
            "the run stopped, and last.pt (if an epoch finished) keeps the last good one. "
            "Try a lower optim.lr."
        )
