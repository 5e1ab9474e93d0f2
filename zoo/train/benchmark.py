"""``zoo benchmark``: how fast a model trains and infers, on synthetic images at its own size.

The training figure times :func:`~zoo.train.objective.train_step`, the step ``zoo train``
takes, with the placement ``zoo train`` would choose for the same ``precision`` and
``channels_last`` (:func:`~zoo.train.runtime.device.place`), its optimiser (SGD, fused where
torch has it) and its ``torch.compile`` mode, so the figure predicts what training achieves
without the data loading (``bench/benchmark_vs_train.py`` measures how close). Inference is the
network in eval mode under ``torch.inference_mode``. Each is timed over ``steps`` steps after
``warmup`` steps, with the device synchronised at both ends.

The keys are timm's ``benchmark.py``'s: ``train_samples_per_sec``, ``train_step_time`` and
``infer_step_time`` in milliseconds, ``param_count`` in millions; ``macs`` is per image. A batch
that runs out of GPU memory is retried at half the size, as timm does, and the result says so
(``note``); before anything is allocated, the batch's training memory is estimated as
``zoo train`` estimates it (:mod:`zoo.recipe.budget`), and one beyond the device is refused.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import nn

from zoo.errors import ZooError
from zoo.recipe.budget import check_fits, estimate
from zoo.recipe.training import MAX_BATCH_SIZE, OptimConfig, TrainConfig
from zoo.train.objective import Objective, train_step
from zoo.train.optim import make_optimizer
from zoo.train.runtime.device import Placement, compile_mode, place

WARMUP_STEPS = 3
TIMED_STEPS = 10
CIFAR_TRAIN_IMAGES = 50_000
"""The images of one CIFAR-10 training epoch, for ``sec_per_epoch``."""

SEED_PRESET = re.compile(r"resnet(\d+)_(v1|v2)")
"""The seed's own presets (its Keras definitions), which its table times."""


@dataclass(frozen=True)
class Benchmark:
    """One model's figures (timm's key names, see the module docstring)."""

    model: str
    batch_size: int
    input_size: tuple[int, int, int]
    param_count: float
    macs: int | None
    train_samples_per_sec: float
    train_step_time: float
    infer_samples_per_sec: float
    infer_step_time: float
    precision: str
    channels_last: bool
    device: str
    compile: str | None
    sec_per_epoch: float | None
    """Seconds of a 50,000-image CIFAR-10 epoch at the training rate (32×32 models)."""
    seed_sec_per_epoch: float | None
    """The seed's table's seconds per epoch (a GTX 1080 Ti, batch 32), for its presets."""
    peak_memory_mb: float | None = None
    note: str = ""

    def to_json(self) -> dict[str, Any]:
        return asdict(self) | {"input_size": list(self.input_size)}


def benchmark(
    name: str,
    *,
    batch_size: int = 128,
    precision: str = "auto",
    channels_last: str = "auto",
    compile: bool | str = False,
    device: str = "auto",
    steps: int = TIMED_STEPS,
    warmup: int = WARMUP_STEPS,
    reference: dict[str, Any] | None = None,
) -> Benchmark:
    """Time model ``name`` (a preset, ``timm/NAME`` or ``torchvision/NAME``) training and
    inferring at ``batch_size``; halve the batch on running out of memory, down to 1."""
    if batch_size < 1 or steps < 1 or warmup < 0:
        raise ZooError("--batch-size and --steps must be at least 1")
    if batch_size > MAX_BATCH_SIZE:
        raise ZooError(f"--batch-size {batch_size:,}: at most {MAX_BATCH_SIZE:,}, as in a recipe")
    config = TrainConfig(
        device=device, precision=precision, channels_last=channels_last, compile=compile
    )
    placement = place(config)
    asked, note = batch_size, ""
    while True:
        try:
            return _measure(name, batch_size, config, placement, steps, warmup, note, reference)
        except RuntimeError as exc:  # torch.OutOfMemoryError is one
            if not _out_of_memory(exc):
                raise
            if placement.device.type != "cuda":  # the host's memory: halving could end in the
                raise ZooError(  # kernel's OOM killer, not in an error, so say it and stop
                    f"{name}: out of memory on {placement.device} at batch {batch_size:,}; "
                    "lower --batch-size"
                ) from None
            if batch_size == 1:
                raise ZooError(f"{name}: out of memory on {placement.device} at batch 1") from None
            batch_size //= 2
            note = f"batch {asked} ran out of memory; measured at {batch_size}"
            _free(placement.device)


def _measure(
    name: str,
    batch_size: int,
    config: TrainConfig,
    placement: Placement,
    steps: int,
    warmup: int,
    note: str,
    reference: dict[str, Any] | None,
) -> Benchmark:
    from zoo.architectures.create import model_by_name
    from zoo.architectures.external import default_input_size

    device = placement.device
    with torch.device("meta"):  # sized before anything is allocated: no OOM killer on a host
        shadow = model_by_name(name)
    channels, height, width = default_input_size(shadow)
    try:
        check_fits(
            estimate(shadow, (batch_size, channels, height, width)), device, name, batch_size
        )
    except ZooError as exc:
        raise ZooError(str(exc).replace("train.batch_size", "--batch-size")) from None
    macs = _macs(shadow, (channels, height, width))
    network = model_by_name(name)
    params = sum(parameter.numel() for parameter in network.parameters())
    network = network.to(device, memory_format=placement.memory_format)
    images = torch.rand(batch_size, channels, height, width, device=device)
    images = images.contiguous(memory_format=placement.memory_format)
    with torch.no_grad():
        classes = network.eval()(images[:1]).shape[1]
    labels = torch.randint(0, classes, (batch_size,), device=device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)

    optimizer = make_optimizer(network, OptimConfig(), device)
    objective: nn.Module = Objective(network)
    mode = compile_mode(config)
    if mode is not None:
        objective = torch.compile(objective, mode=mode)
    objective.train()
    train_seconds = _timed(
        lambda: train_step(objective, optimizer, placement, images, labels), steps, warmup, device
    )

    network.eval()

    def infer() -> torch.Tensor:
        with torch.inference_mode(), placement.autocast():
            return network(images)

    infer_seconds = _timed(infer, steps, warmup, device)
    train_rate = batch_size / train_seconds
    return Benchmark(
        model=name,
        batch_size=batch_size,
        input_size=(channels, height, width),
        param_count=round(params / 1e6, 3),
        macs=macs,
        train_samples_per_sec=round(train_rate, 1),
        train_step_time=round(train_seconds * 1e3, 3),
        infer_samples_per_sec=round(batch_size / infer_seconds, 1),
        infer_step_time=round(infer_seconds * 1e3, 3),
        precision=placement.precision,
        channels_last=placement.channels_last,
        device=str(device),
        compile=mode,
        sec_per_epoch=round(CIFAR_TRAIN_IMAGES / train_rate, 1) if height == 32 else None,
        seed_sec_per_epoch=seed_sec_per_epoch(name, reference),
        peak_memory_mb=(
            round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
            if device.type == "cuda"
            else None
        ),
        note=note,
    )


def _out_of_memory(error: RuntimeError) -> bool:
    """CUDA's ``OutOfMemoryError``, or the CPU allocator's refusal (a plain RuntimeError)."""
    return isinstance(error, torch.OutOfMemoryError) or "can't allocate memory" in str(error)


def _timed(step: Callable[[], Any], steps: int, warmup: int, device: torch.device) -> float:
    """Seconds per call of ``step`` over ``steps`` calls after ``warmup``, the device synced."""
    for _ in range(warmup):
        step()
    _sync(device)
    started = time.perf_counter()
    for _ in range(steps):
        step()
    _sync(device)
    return (time.perf_counter() - started) / steps


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def _free(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()


def _macs(shadow: nn.Module, input_size: tuple[int, int, int]) -> int | None:
    """MACs per image, counted by :func:`zoo.inspect.summarize` on the network built on the
    meta device (nothing computed); None for networks without a spec (timm's, torchvision's),
    whose counts ``zoo summarize`` gives."""
    from zoo.inspect import summarize

    if getattr(shadow, "spec", None) is None:
        return None
    return summarize(shadow, input_size, macs=True).macs


def seed_sec_per_epoch(name: str, reference: dict[str, Any] | None = None) -> float | None:
    """The seed's table's seconds per epoch for one of its presets (``resnet56_v2``), or None."""
    match = SEED_PRESET.fullmatch(name)
    if match is None:
        return None
    if reference is None:
        from zoo.inspect import load_reference

        reference = load_reference()
    for row in reference.get("seed_table", []):
        if row.get("model") == f"ResNet{match[1]}":
            return row.get(f"sec_per_epoch_{match[2]}")
    return None
