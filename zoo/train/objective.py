"""What a step computes from a batch — the network's loss and the figures of its metrics — and
the evaluation that sums them over a loader."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from zoo.data import DeviceLoader
from zoo.train.runtime.device import Placement


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
        logits = predict_logits(self.network, images, self.tta)
        soft = labels.is_floating_point()  # mixup's and cutmix's targets, already smoothed
        smoothing = self.label_smoothing if self.training and not soft else 0.0
        loss = F.cross_entropy(logits, labels, label_smoothing=smoothing)
        correct = (logits.argmax(1) == (labels.argmax(1) if soft else labels)).sum()
        return loss, torch.stack([loss.detach() * labels.shape[0], correct.float()])


def predict_logits(network: nn.Module, images: torch.Tensor, tta: bool = False) -> torch.Tensor:
    """The network's float32 logits; with ``tta``, the log of the mean of the image's and its
    mirror's softmaxes (log-probabilities, without underflow to log(0))."""
    logits = network(images).float()
    if not tta:
        return logits
    mirrored = network(images.flip(3)).float()
    return torch.logaddexp(logits.log_softmax(1), mirrored.log_softmax(1)) - math.log(2)


class LossScaler:
    """fp16's gradient scaler (``torch.amp.GradScaler``), and the count of the steps it skipped
    because a gradient overflowed to inf or NaN; with bf16 or fp32 it scales nothing."""

    def __init__(self, placement: Placement) -> None:
        self.enabled = placement.autocast_dtype is torch.float16
        self.scaler = torch.amp.GradScaler(placement.device.type, enabled=self.enabled)
        self.skipped = 0

    def backward(self, loss: torch.Tensor) -> None:
        self.scaler.scale(loss).backward()

    def step(self, optimizer: torch.optim.Optimizer) -> None:
        """The optimiser's step on the unscaled gradients, skipped where they are not finite
        (the scaler then lowers its scale: a lower scale after ``update`` is a skipped step)."""
        if not self.enabled:
            optimizer.step()
            return
        scale = self.scaler.get_scale()
        self.scaler.step(optimizer)
        self.scaler.update()
        if self.scaler.get_scale() < scale:
            self.skipped += 1

    def state_dict(self) -> dict[str, Any] | None:
        """For the checkpoint (None without fp16): the scale, its schedule and the count."""
        return self.scaler.state_dict() | {"skipped": self.skipped} if self.enabled else None

    def load_state_dict(self, state: dict[str, Any] | None) -> None:
        if self.enabled and state:
            state = dict(state)
            self.skipped = int(state.pop("skipped", 0))
            self.scaler.load_state_dict(state)


def train_step(
    objective: nn.Module,
    optimizer: torch.optim.Optimizer,
    placement: Placement,
    images: torch.Tensor,
    labels: torch.Tensor,
    accumulate: int = 1,
    no_sync: Callable[[], contextlib.AbstractContextManager] | None = None,
    scaler: LossScaler | None = None,
) -> torch.Tensor:
    """One optimiser step on a batch, as ``zoo train`` takes every step (and ``zoo benchmark``
    times it): forward and loss under the placement's autocast, backward, step. Returns the
    batch's ``[summed loss, correct]`` on the device (no host sync).

    ``accumulate`` > 1 splits the batch into that many micro-batches, each forward and backward
    alone, its mean loss weighted by its share of the batch, so the summed gradients are the
    whole batch's mean-loss gradient (to float rounding, for a network without BatchNorm, whose
    statistics are the micro-batch's); then one step. Under DDP, ``no_sync`` (the wrapper's)
    skips the gradient all-reduce of every micro-batch but the last. ``scaler`` scales the loss
    for fp16 and skips a step whose gradients overflowed (:class:`LossScaler`)."""
    backward = scaler.backward if scaler is not None else torch.Tensor.backward
    optimizer.zero_grad(set_to_none=True)
    if accumulate == 1:
        torch.compiler.cudagraph_mark_step_begin()  # the last step's outputs are consumed
        with placement.autocast():
            loss, stats = objective(images, labels)
        backward(loss)
        _step(optimizer, scaler)
        return stats
    total = labels.shape[0]
    parts = [
        (part_images, part_labels)
        for part_images, part_labels in zip(
            images.tensor_split(accumulate), labels.tensor_split(accumulate), strict=True
        )
        if part_labels.shape[0]
    ]
    sums = []
    for index, (part_images, part_labels) in enumerate(parts):
        last = index == len(parts) - 1
        with contextlib.nullcontext() if last or no_sync is None else no_sync():
            torch.compiler.cudagraph_mark_step_begin()
            with placement.autocast():
                loss, stats = objective(part_images, part_labels)
            backward(loss * (part_labels.shape[0] / total))
        sums.append(stats)
    _step(optimizer, scaler)
    return torch.stack(sums).sum(0)


def _step(optimizer: torch.optim.Optimizer, scaler: LossScaler | None) -> None:
    if scaler is None:
        optimizer.step()
    else:
        scaler.step(optimizer)


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
