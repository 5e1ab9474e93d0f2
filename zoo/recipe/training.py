"""The training tables of a recipe: ``[optim]``, ``[schedule]`` and ``[train]``.

Defaults are the paper's recipe (He et al. 2015, CIFAR-10): SGD, lr 0.1, momentum 0.9, weight
decay 1e-4, batch 128, lr ÷10 at 50% and 75% of training. ``recipes/resnet29_v2.toml`` spells out
the seed's instead (Adam, its step schedule and plateau, L2 on conv kernels, batch 32).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeFloat,
    PositiveFloat,
    PositiveInt,
    model_validator,
)

from zoo.data.loader import EPOCH_STRIDE, RANK_STRIDE

UnitInterval = Annotated[float, Field(ge=0.0, lt=1.0, strict=True)]

STRICT = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)
"""Every recipe table: unknown keys are errors, and so is a value of the wrong type (pydantic's
strict mode: ``epochs = true`` or ``epochs = "3"`` is refused, not read as 1 or 3), and so is
``inf`` or ``nan`` where a number is meant."""

MAX_EPOCHS = 1_000_000
"""A sane bound on epochs (and patience); below the loader's ``EPOCH_STRIDE``, which keeps the
generator seeds of different epochs apart."""

MAX_BATCH_SIZE = 2**20
MAX_STEPS = 10**9
"""Bounds that no real run reaches, so that a typo cannot ask for an absurd amount of work."""

MAX_SEED = 2**64 // (EPOCH_STRIDE * RANK_STRIDE) - 1
"""The loader mixes (seed, epoch, rank) into one generator seed, ``(seed·E + epoch)·R + rank``,
which torch takes as an unsigned 64-bit number; this is the largest seed that always fits."""


class OptimConfig(BaseModel):
    """The optimiser (``torch.optim``) and what weight decay applies to."""

    model_config = STRICT

    name: Literal["sgd", "adam", "adamw"] = Field("sgd", description="torch.optim optimiser")
    lr: PositiveFloat = Field(0.1, description="base learning rate")
    momentum: NonNegativeFloat = Field(0.9, description="SGD momentum")
    nesterov: bool = Field(False, description="SGD Nesterov momentum")
    betas: tuple[UnitInterval, UnitInterval] = Field(
        (0.9, 0.999), strict=False, description="Adam/AdamW betas, each in [0, 1)"
    )  # strict=False: TOML gives a list; the numbers in it stay strict
    eps: PositiveFloat = Field(
        1e-8, description="Adam/AdamW epsilon (torch's default; Keras' is 1e-7)"
    )
    weight_decay: NonNegativeFloat = Field(
        1e-4,
        description=(
            "torch's weight decay (gradient += wd·w). Keras' l2(c) adds c·w² to the loss, "
            "so it equals weight_decay = 2c"
        ),
    )
    decay_on: Literal["all", "weights", "conv"] = Field(
        "all",
        description=(
            "which parameters decay: all (the paper), conv and linear weights but no biases or "
            "BN, or conv kernels only (the seed's kernel_regularizer)"
        ),
    )
    lr_scale: dict[str, PositiveFloat] = Field(
        default_factory=dict,
        description=(
            "learning-rate multipliers by module-name pattern (the names `zoo summarize` "
            'prints), e.g. {"stem" = 0.1, "stages.*" = 0.1} trains a pretrained body at a '
            "tenth of the new head's rate; the first matching pattern counts"
        ),
    )

    @model_validator(mode="after")
    def _nesterov_needs_momentum(self) -> OptimConfig:
        if self.name == "sgd" and self.nesterov and self.momentum == 0:
            raise ValueError("nesterov needs a momentum above 0")
        return self


class PlateauConfig(BaseModel):
    """Keras/torch ReduceLROnPlateau on the validation loss."""

    model_config = STRICT

    factor: PositiveFloat = Field(0.31622776601683794, description="lr multiplier (seed: √0.1)")
    patience: PositiveInt = Field(
        5, le=MAX_EPOCHS, description="epochs without improvement before reducing"
    )
    min_lr: NonNegativeFloat = Field(0.5e-6, description="lower bound on the lr")


class WarmupConfig(BaseModel):
    """A constant low lr for the first steps: He et al. 2015 train ResNet-110 at 0.01 first."""

    model_config = STRICT

    lr: PositiveFloat = Field(0.01, description="the warm-up learning rate")
    steps: PositiveInt = Field(
        400, le=MAX_STEPS, description="optimiser steps at that rate (paper: ~400)"
    )


class ScheduleConfig(BaseModel):
    """How the learning rate changes over training."""

    model_config = STRICT

    name: Literal["constant", "steps", "cosine", "onecycle"] = Field(
        "steps", description="constant, piecewise steps, cosine annealing, or one-cycle"
    )
    milestones: list[float] = Field(
        [0.5, 0.75],
        description="for steps: where the lr changes, in units of milestones_unit",
    )
    milestones_unit: Literal["fraction", "epoch"] = Field(
        "fraction",
        description="fraction: of the epochs (paper: 0.5, 0.75); epoch: after that many epochs",
    )
    factors: list[PositiveFloat] = Field(
        [0.1, 0.01], description="for steps: the lr multiplier from each milestone on"
    )
    min_lr: NonNegativeFloat = Field(0.0, description="for cosine: the final lr")
    plateau: PlateauConfig | None = Field(None, description="also reduce on a val-loss plateau")
    warmup: WarmupConfig | None = Field(None, description="a low constant lr first")

    @model_validator(mode="after")
    def _one_factor_per_milestone(self) -> ScheduleConfig:
        if self.name == "onecycle" and self.warmup is not None:
            raise ValueError("onecycle has its own warm-up; remove [schedule.warmup]")
        if any(b <= a for a, b in zip(self.milestones, self.milestones[1:], strict=False)):
            raise ValueError(f"milestones must increase, got {self.milestones}")
        if self.milestones_unit == "fraction" and not all(0 < m <= 1 for m in self.milestones):
            raise ValueError(f"fraction milestones must lie in (0, 1], got {self.milestones}")
        if len(self.milestones) != len(self.factors):
            raise ValueError(
                f"milestones ({len(self.milestones)}) and factors ({len(self.factors)}) must "
                "have the same length"
            )
        return self


class TrainConfig(BaseModel):
    """The training loop."""

    model_config = STRICT

    epochs: PositiveInt = Field(164, le=MAX_EPOCHS, description="passes over the training set")
    batch_size: PositiveInt = Field(
        128, le=MAX_BATCH_SIZE, description="images per optimiser step (per process)"
    )
    ema_decay: float = Field(
        0.0,
        ge=0.0,
        lt=1.0,
        description="model EMA (timm's ModelEmaV3, with warm-up): the decay of an exponential "
        "moving average of the weights, validated beside them each epoch; 0 is off",
    )
    accumulate_steps: PositiveInt = Field(
        1,
        le=MAX_BATCH_SIZE,
        description="micro-batches per optimiser step: each batch_size batch is split into this "
        "many, whose gradients add up before the step (a batch that does not fit in memory)",
    )
    seed: int = Field(
        0, ge=0, le=MAX_SEED, description="seeds torch, the data order and augmentation"
    )
    deterministic: bool = Field(
        False, description="deterministic kernels: two CPU runs give bit-identical weights"
    )
    device: str = Field("auto", description="auto (CUDA, then MPS, then CPU), or a torch device")
    precision: Literal["auto", "bf16", "fp16", "fp32"] = Field(
        "auto",
        description="auto: bf16 autocast where the device supports it, else fp16 with loss "
        "scaling on CUDA, else fp32",
    )
    channels_last: Literal["auto", "on", "off"] = Field(
        "auto", description="NHWC memory format; auto: on where it is faster (CUDA, CPU)"
    )
    compile: bool | Literal["default", "reduce-overhead", "max-autotune"] = Field(
        False,
        description=(
            "torch.compile the model: true (mode default), or a torch.compile mode; "
            "reduce-overhead adds CUDA graphs, which pay where small kernels are launch-bound"
        ),
    )
    label_smoothing: NonNegativeFloat = Field(0.0, le=1.0, description="cross-entropy smoothing")
    freeze: list[str] = Field(
        default_factory=list,
        description='module-name patterns not to train (the names `zoo summarize` prints: "stem", '
        '"stages.0", "stages.*"); their batch norms stay in eval mode',
    )
    sync_batchnorm: bool = Field(False, description="SyncBatchNorm under torch.distributed")
    tensorboard: bool = Field(
        False,
        description="also write each epoch's metrics as TensorBoard event files into the run "
        "directory (torch.utils.tensorboard; needs the tensorboard extra)",
    )

    @model_validator(mode="after")
    def _micro_batches_hold_an_image(self) -> TrainConfig:
        if self.accumulate_steps > self.batch_size:
            raise ValueError(
                f"accumulate_steps ({self.accumulate_steps}) is more than batch_size "
                f"({self.batch_size}): each micro-batch needs an image"
            )
        return self
